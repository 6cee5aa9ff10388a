// omnidesk console: live refresh over SSE and the SLA countdown. No inline script (CSP).
"use strict";

(function () {
  // The server's clock (injectable in tests) minus ours, so countdowns follow the server.
  let offsetMs = 0;

  function syncClock(root) {
    const stamp = root.querySelector("[data-now]");
    if (stamp && stamp.dataset.now) {
      offsetMs = Date.parse(stamp.dataset.now) - Date.now();
    }
  }

  function formatLeft(seconds) {
    const sign = seconds < 0 ? "-" : "";
    let s = Math.abs(seconds);
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${sign}${h}:${pad(m)}:${pad(s)}` : `${sign}${m}:${pad(s)}`;
  }

  function tick() {
    const now = Date.now() + offsetMs;
    document.querySelectorAll(".sla[data-breach]").forEach((el) => {
      if (!el.dataset.breach) return;
      const breach = Date.parse(el.dataset.breach);
      const warning = el.dataset.warning ? Date.parse(el.dataset.warning) : null;
      let state = "ok";
      if (el.classList.contains("sla-breach") || now >= breach) state = "breach";
      else if (warning !== null && now >= warning) state = "warning";
      el.classList.remove("sla-ok", "sla-warning", "sla-breach");
      el.classList.add("sla-" + state);
      el.textContent = formatLeft(Math.trunc((breach - now) / 1000));
    });
  }

  // One fetch at a time: events arriving meanwhile coalesce into one more fetch after it.
  let inFlight = false;
  let again = false;

  async function refresh(target) {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      do {
        again = false;
        const answer = await fetch(target.dataset.source, { credentials: "same-origin" });
        if (answer.redirected || !answer.ok) return;
        target.innerHTML = await answer.text(); // server-rendered, autoescaped HTML
        syncClock(target);
        tick();
      } while (again);
    } finally {
      inFlight = false;
    }
  }

  function start() {
    syncClock(document);
    tick();
    setInterval(tick, 1000);
    const target = document.getElementById("inbox-rows") || document.getElementById("timeline");
    const page = document.body.dataset.page;
    const live = document.getElementById("live-state");
    if (!live) return;
    const source = new EventSource("/console/events");
    source.onopen = () => live.classList.add("connected");
    source.onerror = () => live.classList.remove("connected");
    source.addEventListener("routing", (message) => {
      const event = JSON.parse(message.data);
      if (page === "agents") {
        window.location.reload();
      } else if (page === "inbox") {
        refresh(target);
      } else if (target && event.conversation_id === target.dataset.conversation) {
        refresh(target);
      }
    });
    // Reply states (accepted, delivered, read) change without a routing event: follow them
    // while a reply is on its way.
    if (page === "conversation") {
      setInterval(() => {
        const list = target.querySelector("[data-pending]");
        if (list && list.dataset.pending === "yes") refresh(target);
      }, 1000);
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
