"""docs/performance.md, generated from bench/results/summary.json by ``bench.run_all``.

The analysis of each missed target (what limits it, what was changed, why it
cannot go faster here) is kept in ``ANALYSIS`` below, next to the profiles'
top frames read from ``bench/results/profiles/<service>.txt``.
"""

from __future__ import annotations

import pstats
import re
from pathlib import Path
from typing import Any

from bench.figures import MEMORY_TARGET_MB, get

ROOT = Path(__file__).resolve().parents[1]

#: Which profiled processes explain each path of the table.
PROFILED = {
    "chat webhook": ["chat_ingest"],
    "phone webhook": [],  # the pipeline drives chat only
    "interactions → decisions": ["router"],
    "routing event → notice sent": ["notifier"],
    "webhook → agent mail": ["chat_ingest", "router", "notifier"],
    "backlog recovery": ["backlog-router", "backlog-notifier"],
    "memory": [],
}

#: When ANALYSIS was last revised against a run: printed above it, so a reader of a
#: newer run sees which prose may describe older code. Revise both together.
ANALYSIS_REVISED = (
    "2026-11-28 idle run, after issue #16's router, notifier and webhook work; the "
    "measurement notes on the pipeline and the backlog from loaded-machine smoke runs of "
    "the per-process CPU accounting"
)

#: Written from the profiles and the code; keyed like PROFILED.
ANALYSIS: dict[str, str] = {
    "chat webhook": (
        "One worker process spends 330-400 µs of CPU per Kafka-acked request (measured by "
        "`bench/webhook_profile.py`): the HTTP server ~25 µs, the app ~125 µs (signature, one "
        "JSON parse validated straight into the provider model, the `Interaction`, CloudEvent "
        "encoding), the aiokafka client ~100 µs, the per-event INFO log line ~27 µs. The bare "
        "ASGI app under the same generator costs ~19 µs per request, hence one worker at ~7 % "
        "of the HTTP ceiling: the remaining cost is the work itself, not the server. This "
        "round removed the double parse (body validated once from JSON; only a refused body "
        "is parsed again for its message) and aiokafka's byte-at-a-time murmur2 (~20 µs, "
        "replaced by `libs/common/kafka/partitioner.py`, same partitions); orjson and msgspec "
        "were measured and not adopted (pydantic's own JSON reader was faster for "
        "parse + validate). The target is met by processes: `CHAT_INGEST_WORKERS` — one "
        "worker per core given to the service; 2 workers reach the target in this run. "
        "p99 at 2,000/s offered is a few milliseconds with either worker count."
    ),
    "phone webhook": (
        "Same path and limit as chat. phone_log now takes the same fast path as chat_ingest "
        "(headers read from the request instead of FastAPI `Header()` parameters; the OpenAPI "
        "document is unchanged): app CPU per request CTI 247 → 140 µs, Twilio 333 → 225 µs. "
        "One worker per core (`PHONE_LOG_WORKERS`); 2 workers reach the target in this run."
    ),
    "interactions → decisions": (
        "A poll is routed in one transaction (`route_batch`) with its lookups prefetched; new "
        "conversations are inserted with one multi-row INSERT per poll (built without ORM "
        "attribute tracking: ~4 µs instead of ~96 µs each), SLA warning and breach times come "
        "from one walk over the open hours, the event snapshot is built once while a "
        "conversation is unchanged, rule conditions stop at the first that fails, "
        "`deterministic_id` is 2.5x faster, and the collector is tuned in the process "
        "(`services/router/gc_tuning.py`; it was ~15 % of a batch). Together ~25 % less CPU "
        "per decision on both stores (1,661 → 1,943/s SQLite, 1,651 → 1,864/s PostgreSQL "
        "idle-to-idle), 24-33 % of the store ceiling. What is left is spread thin: SQLAlchemy "
        "preparing row values (~20 %), SQLite itself (~20 %), SLA arithmetic (~9 %), ORM "
        "change tracking of existing conversations, and building three pydantic events per "
        "new conversation. 5,000/s per process would need conversations held as plain data "
        "with Core bulk UPDATEs and event JSON assembled once per snapshot — a rewrite of the "
        "routing core, not done here; on PostgreSQL a second replica is the simpler lever "
        "(assignment already locks). A cache of agents and policies across polls was not "
        "built on purpose: per-poll lookups are 2-6 % of a batch, and a cache that outlives "
        "the transaction could be stale against another replica or the API (double "
        "assignment) for that little gain. The p99 rows at 1,000/s are queueing behind the "
        "throughput phase's relay backlog as well as routing time."
    ),
    "routing event → notice sent": (
        "The notifier handles a whole poll at once: one multi-row claim in the sent-log "
        "(existing rows skipped, primary-key order so replicas cannot deadlock), sends "
        "concurrently within the SMTP pool, `sent` records written in batches as mails "
        "complete, outcomes published together; mail bytes are written directly "
        "(`services/notifier/wire.py`, checked against the `email` package by a property "
        "test) and templates compiled once per process. Idle-to-idle: 161 → 776 notices/s, "
        "43 % of the SMTP pool alone. Before, building the mail with `email.policy.default` "
        "took 41 % and the two sent-log transactions 30 %; now the SMTP conversation is the "
        "largest part (~31 %: aiosmtplib makes four round trips per mail and has no "
        "PIPELINING), then the outcome publish (~12 %), rendering and writing (~11 %), "
        "recording (~11 %). In this bench aiosmtpd runs as a thread of the bench process and "
        "shares its interpreter with the notifier under test; with the SMTP server in its "
        "own process (`--server process`, as a real relay is) the same code measured "
        "908-1,281/s on the loaded machine. The rate window of acknowledgements "
        "(`take_rate_slot`) is still one statement per notice. Chat sends are not batched: "
        "no provider API takes different messages to several recipients in one call."
    ),
    "webhook → agent mail": (
        "At 25/s and 100/s every mail arrives well inside the target (p99 44 ms and 274 ms; "
        "104 ms and 265 ms before this round). At 500/s the system falls behind from the "
        "start: 19,240 of 30,000 agent mails arrived during the 60 s of load and the 60 s "
        "drain (~160/s on average), and chat_ingest's answers slowed until the load "
        "generator was 52 s behind its schedule — the two cores were saturated by the five "
        "services, the broker (three topic hops per event, acks=all) and the generator. The "
        "capacity of the whole system on two shared cores therefore lies between 100/s "
        "(kept up) and ~200/s. The profile pass runs at 100/s, not at the collapse; in it "
        "the notifier's largest block is its chat deliveries (the web-chat visitor's "
        "acknowledgement, sent one at a time per partition so a kill can repeat at most one "
        "message: `_deliver_chat`), then SMTP and the per-notice rate-window statement; the "
        "router's is `route_one` and the relay. What would move it: those two, then each "
        "service on cores of its own (the targets are per process; here all share two). "
        "Where the cores go is now measured, not inferred (the table 'Where the two cores "
        "go'). In smoke runs on the shared, loaded machine (load average 4-6, so only the "
        "CPU-seconds, not the latencies, mean much) one acknowledged POST at 100/s cost "
        "about 11.5 CPU-ms in all: notifier ~4.3, router ~3.7, Kafka broker ~1.3-2.4, "
        "chat_ingest ~1.3, SMTP sink ~0.4, vegeta ~0.5 — two cores carry ~170/s at that "
        "cost, and 500/s needs ~5.8 cores unless the per-message cost falls. The same "
        "services cost 2-4x less per interaction in the backlog run (full polls: router "
        "~1.0, notifier ~2.0 CPU-ms), and more at 25/s (router ~16, notifier ~8 CPU-ms "
        "per POST) while idle they burn little (router ~0.03 of a core with the relay at "
        "its default 0.2 s): much of the cost is per poll, not per message — the router "
        "spends roughly 12 CPU-ms on a poll of one — and falls as the rate fills the "
        "polls. Until this round the generator "
        "was Python/httpx: 1.8 CPU-ms per request at 100/s and 5.2 at 300/s, where it "
        "fell 12.8 s behind its own schedule (18 % of the two cores); vegeta, pre-signed "
        "requests, 0.3-0.5 CPU-ms and p99 80 ms behind schedule at 300/s. The 500/s "
        "figures above this paragraph's date were measured with the Python generator and "
        "with the SMTP server sharing the bench's interpreter."
    ),
    "backlog recovery": (
        "The router decides the queued interactions while the notifier follows the routing "
        "events it publishes; both share the two cores. The router had routed all 100,000 "
        "after 106 s (~940/s: half its own backlog figure, since the notifier took the other "
        "core), and the notifier then worked through 140,000 mails (one agent mail per new "
        "conversation plus the customer acknowledgement of each new e-mail conversation) at "
        "~500/s. Meeting 60 s needs ~1,700 decisions/s and ~2,400 notices/s at the same "
        "time: the router and notifier work above, and more than two cores. The phases "
        "are now reported apart (routed, notified), with RSS every second and the CPU of "
        "each process per phase: the router's RSS is ~140-155 MB within seconds of its "
        "start even for a 3,000-5,000 backlog (loaded-machine smoke runs), so its "
        "memory is not the backlog's size but a full poll's working set. The profiles "
        "below are from a separate, smaller pass under pyinstrument (`--profile`)."
    ),
    "memory": (
        "Peak RSS (VmHWM) includes the interpreter and imported libraries — the idle column "
        "is that floor (the router no longer imports kiwipiepy: the grouping of unanswered "
        "questions moved to `libs/common/clustering.py`; consumer-only services no longer "
        "import FastAPI/uvicorn for their probes). Under a backlog every poll is a full "
        "batch: the router holds a poll of decisions and their events, the notifier a poll of "
        "rendered mails and claims plus aiokafka's fetch buffers "
        "(``max_partition_fetch_bytes`` per partition); that is what takes both over 150 MB "
        "in the backlog run. Smaller polls (the consumers' ``max_poll_records``) trade "
        "throughput for memory."
    ),
}

PROFILE_LINES = 14
SERIES_ROWS = 12


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "—"}[met]


def _key(path: str) -> str | None:
    return next((k for k in PROFILED if path.startswith(k)), None)


#: Frames that are the event loop waiting (idle) rather than work.
IDLE = {("asyncio/runners.py", "run"), ("<built-in>", "epoll.poll"), ("<built-in>", "select")}


def profile_excerpt(report: Path, lines: int = PROFILE_LINES) -> str:
    """Functions by own (self) wall time in a pyinstrument pstats file, largest first.

    Import-time frames (``<module>``) and the idle event loop are summed apart.
    """
    try:
        stats = pstats.Stats(str(report)).stats  # type: ignore[attr-defined]
    except TypeError:  # pstats refuses a file without a single sample
        return f"no samples in {report.name}"
    total = sum(entry[2] for entry in stats.values()) or 1.0
    idle = startup = 0.0
    ranked = []
    for (filename, line, function), entry in stats.items():
        where = re.sub(r".*/(site-packages|lib/python3\.\d+)/", "", filename)
        where = where.removeprefix(f"{ROOT}/")
        if (where, function) in IDLE or any(where.endswith(f) and function == n for f, n in IDLE):
            idle += entry[2]
        elif function == "<module>":
            startup += entry[2]
        else:
            ranked.append((entry[2], entry[3], function, f"{where}:{line}"))
    ranked.sort(reverse=True)
    out = [
        f"event loop idle {100 * idle / total:.0f} %, start-up imports "
        f"{100 * startup / total:.0f} %, work {100 * (total - idle - startup) / total:.0f} % "
        f"of {total:.0f} s",
        f"{'self s':>8} {'self %':>7} {'total s':>8}  function",
    ]
    for own, cumulative, function, where in ranked[:lines]:
        out.append(f"{own:8.2f} {100 * own / total:6.1f}% {cumulative:8.2f}  {function}  {where}")
    return "\n".join(out)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's table: path | target | figure | ceiling | ratio | verdict (and a note)."""
    out = [
        "| path | target | figure | value | ceiling | ratio | verdict | note |",
        "|---|---|---|---:|---|---:|---|---|",
    ]
    for r in rows:
        share = f"{r['ceiling_pct']:.1f} %" if r.get("ceiling_pct") is not None else ""
        out.append(
            f"| {r['path']} | {r['target']} | {r['figure']} | {_fmt(r['value'])} {r['unit']} | "
            f"{r.get('ceiling', '')} | {share} | {_verdict(r['met'])} | {r.get('note', '')} |"
        )
    return out


def _release(summary: dict[str, Any]) -> list[str]:
    if summary.get("release"):
        return [f"**{summary.get('label', 'release figures')}.**"]
    label = summary.get("label") or "NOT RELEASE FIGURES: load average at the start unknown"
    return [
        f"> **{label}.**",
        "> These numbers are noisy: the run shared its 2 cores with other work, so every "
        "process got a fraction of a core. Compare each figure with its ceiling from the "
        "same run (the ratio column) rather than with the absolute target; rerun on an "
        "idle machine (load average ≤ 1 at the start) for release figures.",
    ]


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _backlog(summary: dict[str, Any]) -> list[str]:
    data = (summary.get("results") or {}).get("backlog_recovery")
    if not data:
        return ["(the backlog recovery step did not run)"]
    recovered = data.get("recovered")
    figure = (
        f"**{_fmt(data.get('recovery_s'))} s** from the router's start until all "
        f"{_count(data.get('interactions'))} interactions were routed and every notice sent "
        f"(target ≤ 60 s: {'met' if recovered and data['recovery_s'] <= 60 else 'missed'})"
        if recovered
        else f"**not recovered** within the {_fmt(data.get('budget_s'))} s budget "
        f"({data.get('routed')}/{data.get('interactions')} routed, notifier lag "
        f"{data.get('notifier_lag_at_end')})"
    )
    mix = data.get("mix") or {}
    return [
        figure + ".",
        "",
        f"- backlog: {_count(data.get('interactions'))} interactions, "
        f"{_count(mix.get('customers'))} "
        f"customers, {100 * mix.get('repeat_share', 0):.0f} % of the interactions from repeat "
        f"customers; {mix.get('channels', '')}; produced at {_fmt(data.get('produce_per_s'))}/s "
        "while the router was stopped;",
        f"- all routed {_fmt(data.get('routed_after_s'))} s after the router's start; "
        f"{_count(data.get('routing_events'))} routing events; "
        f"{_count(data.get('mails_received'))} mails "
        f"received by the SMTP sink; store {data.get('store')}.",
        *_backlog_phases(data),
    ]


def _backlog_phases(data: dict[str, Any]) -> list[str]:
    """The two phases apart, and progress and RSS over time (a sample per second in the
    JSON; at most ``SERIES_ROWS`` of them here, evenly spaced, the last one always)."""
    if "notified_after_s" not in data:
        return []
    out = [
        "",
        "| phase | from the router's start | rate |",
        "|---|---:|---:|",
        f"| all {_count(data.get('interactions'))} routed | "
        f"{_fmt(data.get('routed_after_s'))} s | "
        f"{_fmt(data.get('routed_per_s'))} decisions/s |",
        f"| all {_count(data.get('mails_received'))} notices sent | "
        f"{_fmt(data.get('notified_after_s'))} s | {_fmt(data.get('notices_per_s'))} notices/s |",
    ]
    series = [p for p in data.get("series") or [] if isinstance(p, dict)]
    if series:
        step = max(1, -(-len(series) // SERIES_ROWS))
        shown = series[::step]
        if shown[-1] is not series[-1]:
            shown.append(series[-1])
        out += [
            "",
            "Progress and RSS over time (sampled every second; evenly spaced rows):",
            "",
            "| s | routed | notices sent | router RSS | notifier RSS |",
            "|---:|---:|---:|---:|---:|",
        ]
        for point in shown:
            out.append(
                f"| {point.get('t_s')} | {_count(point.get('routed'))} | "
                f"{_count(point.get('mails'))} | {_mb(point.get('router_rss_mb'))} | "
                f"{_mb(point.get('notifier_rss_mb'))} |"
            )
    return out


def _mb(value: Any) -> str:
    return f"{value} MB" if isinstance(value, int | float) else "—"


def _cpu(summary: dict[str, Any]) -> list[str]:
    """Per process: CPU-seconds per 1,000 messages and share of all cores, per phase."""
    phases = summary.get("cpu_shares") or {}
    if not phases:
        return ["(no CPU accounting in this run)"]
    names: list[str] = []
    for phase in phases.values():
        for name in phase.get("processes") or {}:
            if name not in names and name != "other":
                names.append(name)
    names.append("other")
    labels = list(phases)
    out = [
        "Each cell: CPU-seconds per 1,000 messages (acknowledged POSTs in the pipeline, "
        "interactions in the backlog) · share of all cores over the phase. Read from "
        "`/proc/<pid>/stat` (utime + stime of the process and its children) at the start "
        "and end of each phase (`bench/cpu_accounting.py`); the load generator's from its "
        "own `getrusage`; *other* is what the machine spent outside these processes "
        "(kernel, anything else running). A pipeline phase runs from the first POST until "
        "the last mail arrived or the drain ended.",
        "",
        "| process | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for name in names:
        cells = []
        for label in labels:
            entry = (phases[label].get("processes") or {}).get(name)
            cells.append(_cpu_cell(entry))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append(
        "| **machine** | "
        + " | ".join(_cpu_cell(phases[label].get("machine")) for label in labels)
        + " |"
    )
    out.append(
        "| wall seconds | "
        + " | ".join(_fmt(phases[label].get("wall_s")) for label in labels)
        + " |"
    )
    return out + _pipeline_settings(summary)


def _pipeline_settings(summary: dict[str, Any]) -> list[str]:
    """What the pipeline's services ran with (the settings that shape its throughput)."""
    system = get(summary.get("results") or {}, "pipeline", "system") or {}
    services = system.get("services") or {}
    if not services:
        return []
    described = "; ".join(
        f"{name}: " + ", ".join(f"{key}={value}" for key, value in sorted(values.items()))
        for name, values in services.items()
        if values
    )
    out = ["", f"The pipeline's services ran with {described}."]
    if system.get("assistant"):
        out[-1] += f" Assistant: {system['assistant']}."
    return out


def _cpu_cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "—"
    per = entry.get("cpu_s_per_1000")
    share = entry.get("share_of_cores_pct")
    per_text = f"{per:.2f} s" if isinstance(per, int | float) else "—"
    return f"{per_text} · {share:.0f} %" if isinstance(share, int | float) else per_text


def _steps(summary: dict[str, Any]) -> list[str]:
    out = ["| step | command | status | seconds |", "|---|---|---|---:|"]
    for name, step in summary.get("steps", {}).items():
        out.append(
            f"| {name} | `python {step['command']}` | {step['status']} | {step['seconds']} |"
        )
    return out


def _memory(summary: dict[str, Any]) -> list[str]:
    memory = summary.get("peak_rss_mb") or {}
    if not memory:
        return ["(neither the pipeline nor the backlog recovery ran)"]
    runs = {name: mb if isinstance(mb, dict) else {"pipeline": mb} for name, mb in memory.items()}
    idle = get((summary.get("results") or {}), "backlog_recovery", "idle_rss_mb") or {}
    out = [
        f"Target: each service ≤ {MEMORY_TARGET_MB:g} MB RSS at those rates. Peak RSS is "
        "VmHWM at the end of each run; idle is the RSS of the service started and idle "
        "before the backlog run (imports, settings, connections: the floor).",
        "",
        "| service | idle | pipeline run (peak) | backlog recovery (peak) | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for name, peaks in sorted(runs.items()):
        values = [v for v in peaks.values() if v is not None]
        verdict = _verdict(max(values) <= MEMORY_TARGET_MB if values else None)
        cells = [
            f"{peaks[step]} MB" if peaks.get(step) is not None else "—"
            for step in ("pipeline", "backlog_recovery")
        ]
        floor = f"{idle[name]} MB" if idle.get(name) is not None else "—"
        out.append(f"| {name} | {floor} | {cells[0]} | {cells[1]} | {verdict} |")
    if summary.get("memory_note"):
        out += ["", summary["memory_note"] + "."]
    return out


def _missed(summary: dict[str, Any], profiles: Path) -> list[str]:
    keys: list[str] = []
    for r in summary.get("rows", []):
        key = _key(r["path"])
        if r.get("met") is False and key and key not in keys:
            keys.append(key)
    if not keys:
        return ["Every target with a figure was met."]
    out: list[str] = [
        f"The analyses below are written by hand from profiles and code (last revised: "
        f"{ANALYSIS_REVISED}); the profiles under them are from this run.",
        "",
    ]
    for key in keys:
        out += [f"### {key}", ""]
        out += [ANALYSIS.get(key, "(no analysis written yet)"), ""]
        for service in PROFILED[key]:
            report = profiles / f"{service}.pstats"
            if report.exists():
                backlog = service.startswith("backlog-")
                name = service.removeprefix("backlog-")
                during = "during a backlog recovery" if backlog else "under the pipeline load"
                out += [
                    f"`{name}` {during} (pyinstrument, wall time; "
                    "`select`/`poll` is idle time waiting for I/O):",
                    "",
                    "```",
                    profile_excerpt(report),
                    "```",
                    "",
                ]
    return out


def render(summary: dict[str, Any], profiles: Path) -> str:
    machine = summary.get("machine", {})
    start = summary.get("load_average_at_start") or []
    end = summary.get("load_average") or []
    lines = [
        "# Performance",
        "",
        "<!-- Generated by `python -m bench.run_all --profile --write-docs` from "
        "bench/results/summary.json; edit bench/performance_doc.py, not this file. -->",
        "",
        *_release(summary),
        "",
        f"Measured {summary.get('measured_at', '?')[:19]} UTC, {summary.get('mode')} run, "
        f"{summary.get('wall_seconds')} s, {machine.get('cpus')} CPUs, Python "
        f"{machine.get('python')}; load average at the start "
        f"{', '.join(f'{x:.2f}' for x in start) or 'not recorded'}, at the end "
        f"{', '.join(f'{x:.2f}' for x in end)}.",
        "",
        "## What was measured",
        "",
        "Every benchmark runs as its own process with a time limit (`python -m bench.run_all`; "
        "`--quick` for the short variant). Services run as `python -m services.<name>` on "
        "loopback against the real broker; load generators are separate processes. Every "
        "figure is shown against the ceiling of its path, measured in the same run:",
        "",
        "- **Kafka producer ceiling**: `bench/kafka_ceiling.py`, raw idempotent aiokafka "
        "producer (acks=all), 200 B and 2 KB messages — for throughput paths without a "
        "closer ceiling;",
        "- **HTTP ceiling**: a bare ASGI app answering the same POSTs under the same load "
        "generator (`bench/webhook_load.py`) — for the webhooks;",
        "- **store ceiling**: `bench/store_ceiling.py`, a bulk insert of the rows the router "
        "writes for a new conversation (12 rows: contact, identity, conversation, "
        "interaction, Message-ID, four SLA timers, three outbox events) with the router's "
        "engine and migrations; SQLAlchemy Core executemany, and COPY on PostgreSQL "
        "(the faster counts) — for the router and the backlog recovery;",
        "- **SMTP pool alone**: `bench/notify_throughput.py`, pre-built mails over the "
        "notifier's pool into aiosmtpd — for the whole notice path.",
        "",
        "The paths:",
        "",
        "- **raw email → event**: `bench/email_parse.py`, the shared corpus and a support mix, "
        "per CPU-second of one process.",
        "- **IMAP arrival → Kafka**: `bench/imap_latency.py`, APPEND to a private Dovecot, "
        "email_ingest in IDLE, time until the event is read from Kafka.",
        "- **webhook → Kafka-acked 2xx**: `bench/webhook_load.py` for chat and phone, a "
        "closed-loop throughput phase and an open-loop fixed-rate phase (2,000/s).",
        "- **interactions → decisions**: `bench/router_throughput.py`, per store (SQLite, "
        "PostgreSQL), backlog throughput and fixed-rate latency to `InteractionRouted` "
        "(250, 500 and 1,000/s), each rate started once the routing topic is quiet (the "
        "relay has published what the previous phase left).",
        "- **routing event → notice sent**: `bench/notify_throughput.py`, the whole notice "
        "path (sent-log, rendering, SMTP) into aiosmtpd.",
        "- **webhook → agent mail (pipeline)**: `bench/pipeline.py` — the whole system as "
        "processes (LocalSystem), a signed web-chat POST per new visitor at a fixed rate "
        "(the target run: 500/s sustained for 60 s), latency from the scheduled POST to the "
        "aiosmtpd server receiving the `agent_assigned` mail that names the visitor (a "
        "run-unique id). The generator is vegeta (compiled, pre-signed requests, open-loop "
        "pacer) when built (`python -m bench.vegeta install`), else a Python/httpx process; "
        "the table's note names it. The SMTP sink is a process of its own; topics and "
        "consumer groups are unique to the run. Peak RSS (`/proc/<pid>/status` VmHWM) of "
        "every service is read at the end of that run.",
        "- **backlog recovery**: `bench/backlog_recovery.py` — interactions produced while "
        "the router is stopped (e-mail and web chat, many contacts, repeat customers), then "
        "the router and the notifier started; the time from the router's start until every "
        "interaction's `InteractionRouted` is on the routing topic and the notifier has "
        "committed every routing event (all notices sent); the two phases (all routed, "
        "all notices sent) are reported apart, with RSS sampled every second and the CPU "
        "of each process per phase. Peak RSS of both at the end.",
        "",
        *_steps(summary),
        "",
        "## Results against issue #16's targets",
        "",
        *_table(summary.get("rows", [])),
        "",
        "## Backlog recovery",
        "",
        *_backlog(summary),
        "",
        "## Where the two cores go",
        "",
        *_cpu(summary),
        "",
        "## Peak memory per service",
        "",
        *_memory(summary),
        "",
        "## Missed targets: what limits them",
        "",
        *_missed(summary, profiles),
    ]
    return "\n".join(lines).rstrip() + "\n"


def write_docs(summary: dict[str, Any], profiles: Path, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(summary, profiles))
    return path
