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
    "2026-11-28 idle run (load 0.57 at the start), after the second round of issue #16's "
    "router, notifier and measurement work"
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
        "Second round: the relay is handed the outbox rows each commit wrote (no re-read "
        "of payloads; on SQLite rows are marked sent by a sibling task, so a relay round "
        "never waits for the poll's write lock), inserts go straight to the driver "
        "(`store/bulk.py`: executemany on SQLite, binary COPY on PostgreSQL from 50 "
        "rows), changed conversations are written as one executemany UPDATE per set of "
        "changed columns (a poll of 500 repeat-customer messages: 265 → 13 statements), "
        "event snapshots are built without re-validating stored values, prefetch reads "
        "recent conversations only for chat and phone, SQLite connections are pooled (one "
        "per transaction cost every poll ~4 ms of CPU: a poll of one interaction 9.0 → "
        "4.3 CPU-ms), each agent's fixed state is converted once per poll, and three "
        "redundant indexes are gone (migration 0006). Backlog throughput 1,943 → 2,315/s "
        "on SQLite and 1,864 → 2,421/s on PostgreSQL (28-30 % of the store ceiling, which "
        "now counts the router's own driver inserts); p99 at 1,000/s 421 → 167 ms and 269 "
        "→ 142 ms, and under 100 ms at 250 and 500/s on both stores. SQLite now runs with "
        "synchronous=FULL (a poll's commit is on disk before its offsets are committed) "
        "and the router's PostgreSQL sessions with synchronous_commit=on; both cost an "
        "fsync per poll, not measurable here. What is left is spread thin (µs per "
        "decision on SQLite, measured in-process: SLA clocks ~32, route_one bookkeeping "
        "~27, event building and JSON ~55, the ORM flush of existing conversations ~39, "
        "bulk inserts ~41, classification ~14, threading ~13, Kafka decode ~15): no "
        "single part is worth a rewrite, and writing existing conversations as plain data "
        "was tried and measured slower than the ORM's flush (37 vs 24 µs). 5,000/s per "
        "process is not reached; at 1,000/s the router is at ~45 % of a core and p99 is "
        "its poll time plus the relay's. On PostgreSQL a second replica is the simpler "
        "lever (assignment already locks)."
    ),
    "routing event → notice sent": (
        "Met: 2,204 notices/s through the whole path (claim, rate window, rendering, "
        "SMTP, batched records; outcomes collected in memory, as in every earlier run of "
        "this bench — with outcomes acked by Kafka the same code measured ~800/s on the "
        "loaded machine), 61 % of the SMTP pool alone (3,624 mails/s). This round: the "
        "SMTP server runs in a process of its own for both the ceiling and the path (a "
        "relay is another machine; before, aiosmtpd shared the bench's interpreter), a "
        "poll's rate slots are one upsert, tenacity only after a transient failure, mails "
        "are written inside the send bound and dropped once sent, the group-commit of "
        "`sent` records lingers 20 ms for company, and start-up objects are frozen out of "
        "the collector (`gc.freeze()`, ~7 % of a notice). About 430 µs of CPU per notice "
        "remain: aiosmtplib ~200 µs (four writes per mail; aiosmtpd offers no PIPELINING "
        "and no maintained asyncio client has it), writing the mail ~190 µs (Jinja2 ~125 "
        "µs: each notice carries its own reference and names), then the sent-log "
        "statements. The chat path is now batched per poll too: one claim and one "
        "rate-slot statement, web-chat messages stored in one transaction (the web-chat "
        "acknowledgement cost ~3 ms → ~0.13 ms per POST in-process)."
    ),
    "webhook → agent mail": (
        "No longer collapses: at 500/s for 60 s all 30,000 agent mails arrived (the last "
        "round: 19,240 within the drain), p50 518 ms, p99 911 ms — the target (p99 < 500 "
        "ms) is still missed. The machine is 95 % busy at 500/s: one POST costs 3.9 "
        "CPU-ms in all (router 1.25, notifier 1.05, chat_ingest 0.58, SMTP sink 0.38, "
        "broker 0.26, vegeta 0.25), so two cores carry ~510/s and the latency is queueing "
        "at saturation, not a stall. At 25/s and 100/s p99 is 59 and 80 ms. What changed: "
        "the bench measures honestly (vegeta as the open-loop generator with pre-signed "
        "requests instead of Python/httpx, which cost 1.8-5.2 CPU-ms per request and fell "
        "behind its schedule; the SMTP sink in its own process; the notifier configured "
        "with the web-chat integration, so the visitor's acknowledgement takes its real "
        "path), and the services got cheaper per message — chiefly per poll: consumers "
        "ask the broker to hold a fetch up to 20 ms for 64 KiB "
        "(`KAFKA_FETCH_MAX_WAIT_MS`, `KAFKA_FETCH_MIN_BYTES`), so records arriving one at "
        "a time share a poll's fixed cost (router 2.8 → 2.3 CPU-ms per POST and broker "
        "1.4 → 0.6 at 200/s in a smoke run), the router's SQLite connections are pooled, "
        "and the notifier batches its chat path. 500/s within 500 ms on two cores needs "
        "about another third off the per-POST cost, or the services on cores of their own "
        "(the targets are per process; here five services, the broker, the sink and the "
        "generator share two)."
    ),
    "backlog recovery": (
        "124 s for 100,000 interactions (the last round: 282 s): all routed after 87 s "
        "(1,146 decisions/s while the notifier works beside it), all 110,000 notices "
        "after 124 s (890/s). The target (60 s) needs ~1,700 decisions/s and ~1,800 "
        "notices/s at once on the same two cores, which together take ~91 % of the "
        "machine here (router 42 %, notifier 30 %, SMTP sink 14 % until all are routed). "
        "The last round counted 290,000 routing events and 140,000 mails for the same "
        "mix; 5,000-interaction runs of the old and the new code give identical counts "
        "(13,000 events, 5,500 mails), so the difference comes with the run's length — "
        "most likely the first-response warnings that fire for still-waiting "
        "conversations in a 282 s run — not lost work (not checked event by event)."
    ),
    "memory": (
        "Peak RSS (VmHWM) includes the interpreter and imported libraries — the idle "
        "column is that floor (router 126 MB: SQLAlchemy, FastAPI, alembic, the provider "
        "registry). The notifier now stays under the target in the backlog (174 → 133 "
        "MB): a poll's mails are built inside the send bound and dropped once sent, and "
        "the shared producer's partition-hash cache holds 4,096 keys instead of 65,536 "
        "(~15 MB when full). The router misses it in the backlog (208 MB; 150 MB in the "
        "pipeline): its RSS rises ~40 MB within the first polls (a full poll's ORM "
        "objects and events, the hand-over of up to 10,000 committed outbox rows, "
        "aiokafka's fetch buffers) and then 20-40 MB more over the run; pooled SQLite "
        "connections account for ~15 MB of that (30,000-interaction runs: 173 MB with a "
        "connection per transaction, 182-187 MB pooled — pooling is kept for its ~4 ms of "
        "CPU per poll). Smaller polls (`ROUTER_CONSUMER_MAX_BATCH`) and a smaller "
        "hand-over trade throughput for memory; not tuned here."
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
