"""The run's figures against issue #16's targets, each as a share of its ceiling.

Pure functions over the JSON results of the benchmark steps (no I/O): used by
``bench.run_all`` for the printed table and ``summary.json``, and by
``bench.performance_doc`` for docs/performance.md.

Ceilings, measured in the same run:

- Kafka producer (``bench.kafka_ceiling``, 200 B, acks=all) for throughput
  paths without a closer ceiling (the SMTP pool itself);
- HTTP ceiling (a bare ASGI app answering the same POSTs under the same load
  generator, from ``bench.webhook_load``) for the webhooks;
- store ceiling (``bench.store_ceiling``: bulk insert of the router's rows)
  for the router and the backlog recovery, per store; for the router's latency, the
  store's own commit of a 1,000/s poll's rows (p99 of transactions paced every 27 ms);
- the SMTP pool alone (``bench.notify_throughput``) for the whole notice path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Above this load average (1 minute) at the start, a run is not release figures.
RELEASE_LOAD_MAX = 1.0
MEMORY_TARGET_MB = 150.0
#: Where ``bench.webhook_load`` may put its bare-ASGI HTTP ceiling, first match wins.
HTTP_CEILING_KEYS: tuple[tuple[str, ...], ...] = (
    ("http_ceiling", "acked_per_s"),
    ("http_ceiling", "requests_per_s"),
    ("http_ceiling", "req_per_s"),
    ("http_ceiling", "throughput", "acked_per_s"),
    ("http_ceiling", "throughput", "requests_per_s"),
    ("http_ceiling",),
)


@dataclass(frozen=True)
class Ceiling:
    name: str  # what was measured, e.g. "SQLite bulk insert"
    value: float | None
    unit: str

    def text(self) -> str:
        if self.value is None:
            return f"{self.name}: not measured"
        return f"{self.name} {fmt(self.value)} {self.unit}"


def release_label(load_at_start: float | None) -> dict[str, Any]:
    """Release figures only from a machine that was idle (load average ≤ 1) at the start."""
    release = load_at_start is not None and load_at_start <= RELEASE_LOAD_MAX
    if release:
        label = f"release figures (load average {load_at_start:.2f} at the start)"
    elif load_at_start is None:
        label = "NOT RELEASE FIGURES: load average at the start unknown"
    else:
        label = (
            f"NOT RELEASE FIGURES: load average {load_at_start:.2f} at the start "
            f"(> {RELEASE_LOAD_MAX:g}); the machine was busy"
        )
    return {"release": release, "label": label, "load_at_start": load_at_start}


# --- reading results -------------------------------------------------------------------


def get(data: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def ceilings(result: dict[str, dict[str, Any]]) -> dict[str, Ceiling]:
    kafka = result.get("kafka_ceiling", {})
    store = result.get("store_ceiling", {})
    notify = result.get("notify_throughput", {})
    found = {
        "kafka": Ceiling(
            "Kafka producer (200 B, acks=all)",
            num(get(kafka, "results", "200B", "produce_msgs_per_s")),
            "msg/s",
        ),
        "smtp_pool": Ceiling(
            "SMTP pool alone", num(get(notify, "pooled", "mails_per_s")), "mail/s"
        ),
    }
    for name, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        run = get(store, "runs", name) or {}
        method = run.get("method", "bulk insert")
        found[f"store_{name}"] = Ceiling(
            f"{label} store ({method})", num(run.get("interactions_per_s")), "interactions/s"
        )
        if "paced_commits" in run:  # runs before stop 35 have none
            found[f"store_commit_{name}"] = Ceiling(
                f"{label} store, a 1,000/s poll's rows committed every 27 ms, p99",
                num(get(run, "paced_commits", "p99_ms")),
                "ms",
            )
    for step, label in (("webhook_chat", "chat"), ("webhook_phone", "phone")):
        data = result.get(step, {})
        value = next(
            (num(get(data, *keys)) for keys in HTTP_CEILING_KEYS if num(get(data, *keys))),
            None,
        )
        found[f"http_{label}"] = Ceiling(f"bare ASGI HTTP ({label} POSTs)", value, "req/s")
    return found


# --- rows -------------------------------------------------------------------------------


def row(
    path: str,
    figure: str,
    value: Any,
    unit: str,
    *,
    target: float | None = None,
    target_text: str = "",
    higher_is_better: bool = True,
    inclusive: bool = True,
    ceiling: Ceiling | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One line of the table; ``met`` is None where there is no target or no figure."""
    value = num(value)
    met = None
    if value is not None and target is not None:
        if higher_is_better:
            met = value >= target
        else:
            met = value <= target if inclusive else value < target
    share = None
    if value is not None and ceiling is not None and ceiling.value:
        share = round(100 * value / ceiling.value, 1)
    return {
        "path": path,
        "figure": figure,
        "value": value,
        "unit": unit,
        "target": target_text or (f"{target:g}" if target is not None else ""),
        "met": met,
        "ceiling": ceiling.text() if ceiling is not None else "",
        "ceiling_pct": share,
        "note": note,
    }


def ceiling_rows(found: dict[str, Ceiling]) -> list[dict[str, Any]]:
    return [
        row("ceiling", c.name, c.value, c.unit, note="measured in this run") for c in found.values()
    ]


def webhook_rows(data: dict[str, Any], label: str, ceiling: Ceiling) -> list[dict[str, Any]]:
    """The main run's rows, then those of every other worker count (``by_workers``)."""
    rows = _webhook_run_rows(data, label, ceiling, data.get("workers"))
    for workers, run in sorted((data.get("by_workers") or {}).items()):
        if str(workers) == str(data.get("workers")) or not isinstance(run, dict):
            continue
        value = num(get(run, "ceiling", "throughput", "acked_per_s"))
        own = Ceiling(f"bare ASGI HTTP ({label} POSTs, {workers} workers)", value, "req/s")
        service = {**(run.get("service") or {}), "provider": data.get("provider")}
        service["concurrency"] = data.get("concurrency")
        rows += _webhook_run_rows(service, label, own, workers)
    return rows


def _webhook_run_rows(
    data: dict[str, Any], label: str, ceiling: Ceiling, workers: Any
) -> list[dict[str, Any]]:
    fixed = data.get("fixed_rate", {})
    rate = num(fixed.get("target_rate"))
    processes = f", {workers} worker{'s' if str(workers) != '1' else ''}" if workers else ""
    return [
        row(
            f"{label} webhook → Kafka-acked 2xx",
            f"throughput ({data.get('provider', '?')}, {data.get('concurrency', '?')} in flight"
            f"{processes})",
            get(data, "throughput", "acked_per_s"),
            "req/s",
            target=5000,
            target_text="≥ 5,000 req/s",
            ceiling=ceiling,
        ),
        row(
            f"{label} webhook → Kafka-acked 2xx",
            f"p99 at {fmt(rate)}/s offered ({fmt(num(fixed.get('acked_per_s')))}/s acked"
            f"{processes})",
            get(fixed, "latency_2xx", "p99_ms"),
            "ms",
            target=50 if rate is not None and rate >= 2000 else None,
            target_text="p99 < 50 ms at 2,000/s",
            higher_is_better=False,
            inclusive=False,
        ),
    ]


def throughput_cpu_note(cpu: Any) -> str:
    """ "; CPU-s per 1,000 decisions: router …, kafka broker …; machine … % busy" from the
    throughput phase's ``cpu_split`` (empty for runs before it was measured)."""
    if not isinstance(cpu, dict) or not isinstance(cpu.get("processes"), dict):
        return ""
    named = [
        f"{name} {value:.2f}"
        for name, entry in cpu["processes"].items()
        if name in ("router", "kafka broker", "postgresql")
        and isinstance(entry, dict)
        and (value := num(entry.get("cpu_s_per_1000"))) is not None
    ]
    busy = num(get(cpu, "machine", "share_of_cores_pct"))
    return f"; CPU-s per 1,000 decisions: {', '.join(named)}; machine {fmt(busy)} % busy"


def router_rows(data: dict[str, Any], found: dict[str, Ceiling]) -> list[dict[str, Any]]:
    rows = []
    for run in data.get("runs", []):
        store = run.get("store", "?")
        rows.append(
            row(
                f"interactions → decisions ({store})",
                "backlog throughput",
                get(run, "throughput", "interactions_per_s"),
                "interactions/s",
                target=5000,
                target_text="≥ 5,000/s",
                ceiling=found.get(f"store_{store}"),
                note=f"{get(run, 'throughput', 'decided')}/"
                f"{get(run, 'throughput', 'interactions')} decided within the budget"
                + throughput_cpu_note(get(run, "throughput", "cpu")),
            )
        )
        phases = run.get("latency")
        phases = phases if isinstance(phases, list) else [phases] if phases else []
        for phase in phases:
            rate = num(phase.get("rate_per_s"))
            rows.append(
                row(
                    f"interactions → decisions ({store})",
                    f"p99 at {fmt(rate)}/s",
                    phase.get("p99_ms"),
                    "ms",
                    target=100 if rate is not None and rate >= 1000 else None,
                    target_text="p99 < 100 ms at 1,000/s",
                    higher_is_better=False,
                    inclusive=False,
                    ceiling=found.get(f"store_commit_{store}"),
                    note=f"{phase.get('decided')}/{phase.get('published')} decided"
                    + (
                        f"; started after {fmt(num(phase['drained_after_s']))} s of draining"
                        if num(phase.get("drained_after_s")) is not None
                        else ""
                    )
                    + (
                        f"; the stream's run-on after the window (not counted): p99 "
                        f"{fmt(num(get(phase, 'after_window', 'p99_ms')))} ms"
                        if num(get(phase, "after_window", "p99_ms")) is not None
                        else ""
                    ),
                )
            )
    return rows


def notice_rows(data: dict[str, Any], found: dict[str, Ceiling]) -> list[dict[str, Any]]:
    return [
        row(
            "routing event → notice sent",
            "SMTP pool, pre-built mails",
            get(data, "pooled", "mails_per_s"),
            "mail/s",
            ceiling=found["kafka"],
        ),
        row(
            "routing event → notice sent",
            "whole notice path (sent-log, rendering, SMTP)",
            get(data, "handler", "mails_per_s"),
            "notices/s",
            target=1000,
            target_text="≥ 1,000/s",
            ceiling=found["smtp_pool"],
        ),
    ]


def pipeline_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for run in data.get("runs", []):
        rate = num(run.get("rate_per_s")) or 0.0
        seconds = num(run.get("seconds")) or 0.0
        offered = round(rate * seconds)
        missing = run.get("not_delivered_within_drain")
        acked = num(run.get("acked_2xx"))
        refused = max(0, offered - int(acked)) if acked is not None else 0
        note = run.get("error") or (
            f"{run.get('delivered')}/{run.get('acked_2xx')} acked delivered "
            f"({offered} offered; {run.get('statuses')})"
        )
        lag = num(get(run, "generator_lag", "p99_ms"))
        if lag is not None:
            generator = f" ({run['generator']})" if run.get("generator") else ""
            note += f"; load generator{generator} behind schedule p99 {fmt(lag)} ms"
        # The target is a sustained run: 500/s for 60 s.
        target = 500.0 if rate >= 500 and seconds >= 60 else None
        label = f"at {rate:g}/s for {seconds:g} s"
        rows.append(
            row(
                "webhook → agent mail (pipeline)",
                f"p50 {label}",
                get(run, "latency", "p50_ms"),
                "ms",
                note=note,
            )
        )
        p99 = row(
            "webhook → agent mail (pipeline)",
            f"p99 {label}",
            None if missing else get(run, "latency", "p99_ms"),
            "ms",
            target=target,
            target_text="p99 < 500 ms at 500/s for 60 s",
            higher_is_better=False,
            inclusive=False,
            note=note
            + (f" — {missing} not delivered within the drain" if missing else "")
            + (f" — {refused} of {offered} not acknowledged 2xx" if refused else "")
            + _generator_errors(run),
        )
        # Sustained means every POST acknowledged and its mail delivered: 503s (the
        # webhook's bound on requests in flight) or unsent requests miss the target too.
        if target is not None and (missing or refused or run.get("error")):
            p99["met"] = False
        rows.append(p99)
    return rows


def backlog_rows(data: dict[str, Any], found: dict[str, Ceiling]) -> list[dict[str, Any]]:
    if not data:
        return []
    count = data.get("interactions")
    note = (f"{data['error']}: " if data.get("error") else "") + (
        f"{data.get('routed')}/{count} routed, {data.get('mails_received')} mails, "
        f"notifier lag {data.get('notifier_lag_at_end')}; produced at "
        f"{fmt(num(data.get('produce_per_s')))}/s"
    )
    recovery = row(
        "backlog recovery",
        f"{fmt(num(count))} interactions: router start → all routed and notified",
        data.get("recovery_s"),
        "s",
        target=60,
        target_text="≤ 60 s",
        higher_is_better=False,
        note=note
        + (
            ""
            if data.get("recovered")
            else f" — not recovered within the {fmt(num(data.get('budget_s')))} s budget"
        ),
    )
    if not data.get("recovered"):
        recovery["met"] = False
    store = found.get(f"store_{data.get('store', 'sqlite')}")
    rows = [
        recovery,
        row(
            "backlog recovery",
            "routed and notified per second",
            data.get("interactions_per_s"),
            "interactions/s",
            ceiling=store,
            note=f"all routed after {fmt(num(data.get('routed_after_s')))} s",
        ),
    ]
    if "notified_after_s" not in data:
        return rows  # a result from before the phases were reported apart
    return [
        *rows,
        row(
            "backlog recovery",
            "router start → all routed",
            data.get("routed_after_s"),
            "s",
            note=f"{data.get('routed')}/{count} routed",
        ),
        row(
            "backlog recovery",
            "decisions per second until all routed",
            data.get("routed_per_s"),
            "interactions/s",
            ceiling=store,
        ),
        row(
            "backlog recovery",
            "router start → last notice sent",
            data.get("notified_after_s"),
            "s",
            note=f"{data.get('mails_received')} mails",
        ),
        row(
            "backlog recovery",
            "notices per second until all sent",
            data.get("notices_per_s"),
            "notices/s",
            ceiling=found.get("smtp_pool"),
        ),
    ]


def peak_memory(result: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """service → {run: peak RSS MB} for the pipeline and the backlog recovery."""
    memory: dict[str, dict[str, float | None]] = {}
    for step in ("pipeline", "backlog_recovery"):
        for service, figures in (result.get(step, {}).get("memory") or {}).items():
            memory.setdefault(service, {})[step] = num(figures.get("peak_rss_mb"))
    return memory


def memory_rows(memory: dict[str, dict[str, float | None]]) -> list[dict[str, Any]]:
    return [
        row(
            "memory",
            f"{service} peak RSS ({step})",
            mb,
            "MB",
            target=MEMORY_TARGET_MB,
            target_text=f"≤ {MEMORY_TARGET_MB:g} MB",
            higher_is_better=False,
        )
        for service, runs in sorted(memory.items())
        for step, mb in runs.items()
    ]


def cpu_shares(result: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Where the cores went, per process: each pipeline rate and each backlog phase →
    {"load_average_1m", "machine", "processes": {name: {cpu_s_per_1000, share_of_cores_pct}}}
    (as ``bench.cpu_accounting.cpu_split`` wrote them; phases without accounting left out)."""
    found: dict[str, dict[str, Any]] = {}
    idle = get(result, "pipeline", "idle_cpu")
    if isinstance(idle, dict):
        found["pipeline idle"] = idle
    for run in get(result, "pipeline", "runs") or []:
        if isinstance(run, dict) and isinstance(run.get("cpu"), dict):
            label = f"pipeline {fmt(num(run.get('rate_per_s')))}/s"
            if run.get("generator"):
                label += f" ({run['generator']})"
            found[label] = run["cpu"]
    phases = get(result, "backlog_recovery", "cpu") or {}
    names = {
        "start_up": "backlog: start-up",
        "until_all_routed": "backlog: until all routed",
        "after_start_up": "backlog: after start-up",
        "until_all_notified": "backlog: until all notified",
    }
    for key, label in names.items():
        if isinstance(phases.get(key), dict):
            found[label] = phases[key]
    return found


def figures(steps: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of the table, and the extras (memory, notes) kept beside them."""
    result = {name: (s.get("result") or {}) for name, s in steps.items()}
    found = ceilings(result)
    email = result.get("email_parse", {})
    imap = result.get("imap_latency", {})
    rows = [
        *ceiling_rows(found),
        row(
            "raw email → event",
            "corpus, per CPU-second",
            get(email, "corpus", "messages_per_s_per_core"),
            "msg/s/core",
            target=1000,
            target_text="≥ 1,000/s/core",
        ),
        row(
            "raw email → event",
            "support mix (cold), per CPU-second",
            get(email, "support_text_mix_cold", "messages_per_s_per_core"),
            "msg/s/core",
            target=1000,
            target_text="≥ 1,000/s/core",
        ),
        row(
            "IMAP arrival → Kafka (IDLE)",
            f"p99 over {get(imap, 'latency', 'count') or '?'} mails",
            get(imap, "latency", "p99_ms"),
            "ms",
            target=1000,
            target_text="p99 < 1,000 ms",
            higher_is_better=False,
            inclusive=False,
        ),
        *webhook_rows(result.get("webhook_chat", {}), "chat", found["http_chat"]),
        *webhook_rows(result.get("webhook_phone", {}), "phone", found["http_phone"]),
        *router_rows(result.get("router_throughput", {}), found),
        *notice_rows(result.get("notify_throughput", {}), found),
        *pipeline_rows(result.get("pipeline", {})),
        *backlog_rows(result.get("backlog_recovery", {}), found),
    ]
    memory = peak_memory(result)
    rows += memory_rows(memory)
    return rows, {
        "peak_rss_mb": memory,
        "memory_note": result.get("pipeline", {}).get("memory_note"),
        "cpu_shares": cpu_shares(result),
        "ceilings": {key: c.text() for key, c in found.items()},
    }


def _generator_errors(run: dict[str, Any]) -> str:
    """What the load generator saw for requests that got no answer (vegeta's error)."""
    errors = run.get("errors") or {}
    return "".join(f" ({count} times: {message})" for message, count in sorted(errors.items()))
