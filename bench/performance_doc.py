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
    "2026-11-28 idle run at 21:55 UTC (load 0.65 at the start), after stop 15's router, "
    "notifier, Kafka-client, scheduler and intake work for issue #16"
)

#: Written from the profiles and the code; keyed like PROFILED.
ANALYSIS: dict[str, str] = {
    "chat webhook": (
        "One worker spends ~230-290 µs of CPU per Kafka-acked request when saturated and "
        "~510-540 µs at a steady 500/s (lone requests each pay aiokafka's produce request and "
        "event-loop wake-ups). This session (stop 15): the answer is one socket write instead of "
        "two (`libs/common/webhooks/one_write.py`: uvicorn's httptools protocol writes through a "
        "transport that joins one loop turn's writes; 2.04 → 1.05 writes per request under "
        "strace); accepted events are summarised at INFO once a minute, each event's own line "
        "(event id, provider, integration, kind) at DEBUG or at INFO with "
        "`CHAT_INGEST_LOG_EACH_EVENT=true` (`libs/common/webhooks/eventlog.py`; the per-event "
        "INFO line cost ~38 µs of a ~150 µs app request; failures keep their own WARNING lines); "
        "FastAPI's per-request OpenTelemetry probe is off (3.2 → 0.08 µs). App CPU per request "
        "147-188 → 115-153 µs (`bench/webhook_profile.py`, busy machine, interleaved). Earlier "
        "rounds removed the double parse and aiokafka's byte-at-a-time murmur2. The bare ASGI "
        "app under the same generator costs ~19 µs per request: the remaining cost is the work "
        "itself. The target is met by processes (`CHAT_INGEST_WORKERS`, one per core given to "
        "the service); one worker reached 5,852 req/s in this run."
    ),
    "phone webhook": (
        "Same path and limit as chat, with the same one-write answers and per-minute INFO "
        "summary (`PHONE_LOG_LOG_EACH_EVENT`). The producer lingers 2 ms "
        "(`PHONE_LOG_PUBLISH_LINGER_MS`, new this session): 5 ms was tried and raised the p99 at "
        "2,000/s from 13 to 71 ms with one worker on the idle machine (0 ms: 14.9 ms), see "
        "services/phone_log/README.md. One worker per core (`PHONE_LOG_WORKERS`); 2 workers "
        "reach the target in this run."
    ),
    "interactions → decisions": (
        "p99 at 1,000/s now met on both stores in this run (SQLite 92 ms, PostgreSQL 62 ms; 138 "
        "/ 273 ms in the previous idle run). This session (stop 15): on SQLite every statement "
        "is one round trip to aiosqlite's thread instead of up to four "
        "(`store/sqlite_driver.py`, `OneHopConnection`), the whole commit (inserts, UPDATEs, "
        "timer cancellations, COMMIT) is one call into that thread, and the poll's reads are "
        "grouped (known ids + agents + loads; owners + Message-IDs + last assignees; "
        "candidates): round trips per poll of 1 26 → 4, CPU per poll of 1 ~3.5 → ~1.4-1.7 ms, "
        "poll of 10 ~8.6 → ~4.2-5.1 ms (`bench/router_poll_cpu.py`, load ~1). On PostgreSQL "
        "`pool_pre_ping` is gone (three round trips per checkout, ~9 ms of each relay round's "
        "waiting at 1,000/s; a closed connection is dropped at checkout instead), the candidate "
        "and Message-ID SELECTs use one array parameter (one prepared text), and the bench "
        "measures with statistics (`ANALYZE` after the load phase) and the router's own relay "
        "interval. The scheduler no longer takes the assignment lock to find there is nothing to "
        "do: an unlocked look first (due timers, quiet checks, an agent with room for waiting "
        "work), and a drain pages only through conversations someone has room for (held 18-22 ms "
        "per busy tick with everyone full, max ~100 ms; now none), which removed the poll's "
        "88-155 ms lock waits. Per decision: the assignment pool keeps each agent's state "
        "current instead of rebuilding every agent per assignment, SLA due times by binary "
        "search over each day's opening hours (same instants), snapshots built directly, a "
        "snapshot's JSON serialised once for the events sharing it (byte-identical payloads: a "
        "golden test pins every payload and stored row on both stores), row tuples from a "
        "generated expression per statement shape: poll of 500 ~279 → ~240-270 µs per "
        "interaction. Backlog throughput 2,723 / 2,481 per second (SQLite / PostgreSQL), 21 / 29 "
        "% of the store ceiling: the router process still costs ~0.8-1.0 CPU-s per 1,000 "
        "decisions including Kafka, decode and the relay, ~70 µs of it SQLite itself; 5,000/s "
        "per process would need ~0.2. A second replica on PostgreSQL is the lever (assignment "
        "already locks)."
    ),
    "routing event → notice sent": (
        "Met: 3,224 notices/s through the whole path (claim, rate window, rendering, SMTP, "
        "batched records), 89 % of the SMTP pool alone (3,603 mails/s); 2,434/s in the previous "
        "idle run. This session (stop 15): where the server offers PIPELINING (RFC 2920; Postfix "
        "and Exim do — the bench's aiosmtpd sink now advertises it, aiosmtpd handles pipelined "
        "commands), MAIL FROM, RCPT TO and DATA go in one write and the body in a second (four "
        "writes per mail before), read through our own reply queue with one deadline per "
        "transaction instead of aiosmtplib's `wait_for` per reply (8.2 → 0.25 per mail); a "
        "server without PIPELINING gets the old sequence; refusals are classified as before "
        "(tests against a pipelining aiosmtpd). The SQLite sent-log's claim, rate slots and "
        "finish each run as one call in the database thread (20 → 3 round trips per poll); "
        "outcomes go out with one batched `EventProducer.publish_many` (31-35 → ~21 µs each); "
        "encoded-words and one-line headers are written directly (golden mails byte-identical). "
        "CPU per mail on the whole path ~452-489 → ~320-367 µs (busy machine, interleaved). Left "
        "per mail: the two socket writes, writing the mail (~95 µs), the sent-log."
    ),
    "webhook → agent mail": (
        "Met in this run: at 500/s for 60 s all 30,000 agent mails arrived, p50 210 ms, p99 432 "
        "ms (970 ms in the previous idle run, 692 ms in this session's first idle run before the "
        "router's poll size fell from 400 to 250). The machine is 88 % busy at 500/s: one POST "
        "costs 3.56 CPU-ms in all (router 1.49, notifier 0.80, chat_ingest 0.51, SMTP sink 0.30, "
        "broker 0.26, vegeta 0.20); the p99 is still queueing close to saturation, so it swings "
        "between runs. This session: the notifier's pipelined SMTP and one-hop sent-log, the "
        "router's fewer round trips per poll and a scheduler that no longer holds the assignment "
        "lock for nothing, offset commits at most every 0.25 s per consumer (commits per 1,000 "
        "messages 322 → 125; a crash re-delivers up to 0.25 s of handled records, which handlers "
        "skip by event id), idle consumers of rare topics waiting up to 500 ms per fetch (47 → 2 "
        "fetches/s each), chat_ingest's one-write answers. The targets are per process; here "
        "five services, the broker, the sink and the generator share two cores."
    ),
    "backlog recovery": (
        "108 s for 100,000 interactions (121 s in the previous idle run, 104 s in this session's "
        "first idle run with polls of 400): all routed and all 110,000 notices sent at about the "
        "same time (923 decisions/s, notices 1,015/s). The machine is 93 % busy until all are "
        "routed (router 45 %, notifier 28 %, SMTP sink 14 %). The notifier fell from 0.66-0.79 "
        "to 0.61 CPU-s per 1,000 interactions; the router costs 0.97 with polls of 250 (0.77 "
        "with polls of 400, which kept the peak RSS above 150 MB: see memory). The router's CPU "
        "per decision still grows with the store on SQLite: the extra is in the database thread "
        "(COMMIT of a poll of 500 ~10 ms on a fresh store, ~60 ms at 100,000 conversations; "
        "random primary keys dirty one index page per insert), `PRAGMA cache_size` 16 MB gave "
        "nothing and cost ~15 MB. The target needs the router, the notifier and the sink "
        "together under ~1.2 CPU-s per 1,000 interactions on these two cores (~2.0 now)."
    ),
    "memory": (
        "Met for every service: router 135 MB in the pipeline and 147 MB in the 100,000 backlog, "
        "notifier 131 MB. After this session's CPU work the router's backlog peak rose to "
        "153-155 MB with polls of 400 (the cause was not isolated: bisecting the merges gave "
        "148.5 and 152.7 MB, within a run-to-run spread of a few MB), so "
        "`ROUTER_CONSUMER_MAX_BATCH` is now 250 (149 MB with 300, 146 with 250 in single runs; "
        "~8 / ~17 % more router CPU per decision in the backlog than 400). Earlier rounds: no "
        "alembic at start when the store is at `SCHEMA_HEAD`, no provider registry, no asyncpg "
        "on SQLite; glibc held to 2 arenas (1 arena measured 151.5 MB with polls of 400, not "
        "enough alone) and a fixed 128 KiB mmap threshold; once a second a full collection and "
        "`malloc_trim` (`ROUTER_MEMORY_UPKEEP_INTERVAL_S`)."
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
