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
    "2026-11-29 idle run at 06:58 UTC (load 0.36 at the start), after stop 18's decision-path, "
    "store, memory-upkeep, notifier and sent-log work for issue #16"
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
        "Met in this run with 1 and 2 workers (5,006 / 7,703 req/s, p99 at 2,000/s 6.8 / 9.3 "
        "ms; 5,152 / 8,528 and 8.4 / 9.5 ms in the previous idle run). Same path and limit as "
        "chat; the producer lingers 2 ms (`PHONE_LOG_PUBLISH_LINGER_MS`). One worker per core "
        "(`PHONE_LOG_WORKERS`); idle keep-alive connections stay open 95 s "
        "(`PHONE_LOG_HTTP_KEEP_ALIVE_S`)."
    ),
    "interactions → decisions": (
        "p99 at 1,000/s met on both stores (SQLite 53 ms, PostgreSQL 60 ms; 56 / 61 ms in the "
        "previous idle run). Backlog throughput 4,098 / 2,856 per second (SQLite / PostgreSQL; "
        "3,853 / 3,273 in the previous idle run), 30 / 36 % of the store ceiling (driver insert"
        " 13,867 / 7,980). The phase is 3,000 interactions, under a second, and varies: "
        "standalone reruns right after on the idle machine (07:14 UTC, load 0.12-0.33) gave "
        "PostgreSQL 3,598 and 3,403 per second at 3,000, and 4,367 (SQLite) / 3,766 "
        "(PostgreSQL) per second at 12,000. CPU per 1,000 decisions in the phase, now measured "
        "(`bench/cpu_accounting.py`): router 0.25 on SQLite, router 0.28 + PostgreSQL's server "
        "0.12 on PostgreSQL (0.22 and 0.19 + 0.09 in the 12,000 reruns), with the machine only "
        "~60 % busy: on SQLite the router process runs ~1 core (its main thread, under the GIL,"
        " with SQLite's thread beside it) and 5,000/s needs ~0.2 CPU-s per 1,000; on PostgreSQL"
        " it also waits on the poll's ~19 statements in series. This session (stop 18): the "
        "decision thread -16.6 % instructions per interaction (callgrind, polls of 400 on a "
        "warmed SQLite store, 1,226 K → 1,022 K; -15 % on PostgreSQL): routing reads "
        "conversation and agent columns from the instance dict instead of through the ORM's "
        "descriptors (~3,000 → ~450 instructions a read, ~48 reads per interaction; "
        "`service/columns.py`), one cause's event ids share their hashed name prefix (same "
        "bytes, golden test), SLA amounts as timedeltas made once per amount, event models "
        "built by their slots, stored customer and flags as copies of their own values. The "
        "store's main-thread side a further 1,002 K → 952 K (SQLite datetime text by `%` from "
        "the fields, rows of one shape as one statement without a key tuple per row, stored UTC"
        " text read by one `fromisoformat`). Migration 0009: five indexes of mostly empty "
        "columns made partial and `ix_conversations_contact_channel` narrowed to (contact, "
        "channel), so a repeat customer's UPDATE moves no index entry (PostgreSQL: 70 % HOT "
        "updates, server CPU per poll of 500 48 → 43 ms); new SQLite stores use 8 KiB pages "
        "(WAL frames per poll 1,040 → 573); PostgreSQL's owners lookup joins `unnest($1)` (the "
        "generic plan compared every identity with each value: 12-30 ms → 0.6 ms a poll on a "
        "table without statistics). The memory upkeep runs between the consumer's polls "
        "(younger generations, the whole heap every 10th time) instead of from a timer landing "
        "mid-poll: collector CPU 18 → 12 µs per interaction, router CPU per 1,000 in the "
        "throughput bench -7 %. What is left on the decision thread is mostly pydantic and the "
        "ORM: a snapshot's JSON ~55 K instructions, each event's id ~17 K, model ~19 K, JSON "
        "~13 K, a new conversation's ORM row ~23 K, the candidate load ~79 K; going further "
        "needs events that are not pydantic objects before serialisation. A second replica on "
        "PostgreSQL remains the lever (assignment already locks)."
    ),
    "routing event → notice sent": (
        "Met: 3,917 notices/s through the whole path (claim, rate window, rendering, SMTP, "
        "batched records), 94 % of the SMTP pool alone (4,179 mails/s); 3,891/s in the previous"
        " idle run. The notifier now runs on uvloop (`NOTIFIER_EVENT_LOOP`); the pool is "
        "`NOTIFIER_SMTP_POOL_SIZE` lanes, each one connection with up to "
        "`NOTIFIER_SMTP_PIPELINE_DEPTH` (4) mails queued; on a relay offering PIPELINING a "
        "mail's content and the next mail's MAIL FROM / RCPT TO / DATA go in one write (RFC "
        "2920 §3.1), and each reply settles only its own mail. The sent-log's claim + finish "
        "costs ~8 µs per notice on SQLite at ~82,000 rows (`bench/sentlog_cost.py`; ~24 µs with"
        " recipient hashes on, whose keyed index is random by design)."
    ),
    "webhook → agent mail": (
        "Met: at 500/s for 60 s all 30,000 POSTs acknowledged and all 30,000 agent mails "
        "arrived, p50 107 ms, p99 226 ms (the previous idle run missed by one POST that got no "
        "HTTP answer). The webhook servers now keep an idle keep-alive connection 95 s instead "
        "of uvicorn's 5 s (`CHAT_INGEST_HTTP_KEEP_ALIVE_S`): a server closing an idle "
        "connection just as the client reuses it fails that request, and vegeta, like a proxy, "
        "keeps idle connections without limit; whether that was the one lost request is not "
        "proven (its error text was not kept then; `bench.pipeline` keeps it now). One POST "
        "costs 3.53 CPU-ms in all: router 1.50, notifier 0.67, chat_ingest 0.51, SMTP sink "
        "0.28, broker 0.23, vegeta 0.21; the machine is 87 % busy."
    ),
    "backlog recovery": (
        "69.1 s for 100,000 interactions (77.0 s in the previous idle run, 84.6 s and 108 s "
        "before): all routed at 63.8 s (1,567 decisions/s), all 110,000 notices sent at 69.1 s "
        "(1,593 notices/s). The machine is 93 % busy until all are routed: 1.19 CPU-s per 1,000"
        " interactions in all (1.37 before): router 0.56 (0.65: the decision path, the store's "
        "partial indexes, the memory upkeep between polls), notifier 0.32 (0.38: uvloop as its "
        "event loop, -5 % instructions per outcome on its own; NamedTuples for the sent-log's "
        "values; a poll's mails through `mail_concurrency` workers; mails written by our own "
        "writer sent without a scan for bare CR/LF; the SQLite sent-log's claim + finish 16.7 →"
        " 8.0 µs per notice: parameters laid out in the statements' order, shared values "
        "written into the statement once, rows finished by the rowid the claim returned), SMTP "
        "sink 0.24, broker 0.03. Two things keep it above 60 s: the machine's total (on two "
        "cores at ~93 % busy, 60 s allows ~1.1 CPU-s per 1,000 for everything) and the "
        "notifier's tail: it runs ~10,000 notices behind the router while both compete for the "
        "cores and needs 5.3 s after the last decision. The router is 44 % of the cores; the "
        "SMTP sink (aiosmtpd, the bench's stand-in for the desk's mail server) is 19 %, which a"
        " desk's real mail server does not take from the router's cores."
    ),
    "memory": (
        "Met for every service: router 127 MB in the pipeline and 137 MB in the 100,000 backlog"
        " (idle 108 MB), notifier 113 / 134 MB (idle 91 MB). The router's memory upkeep now "
        "runs between the consumer's polls (collecting the younger generations, the whole heap "
        "every 10th time, then `malloc_trim`), still bounded to 5 % of the loop's time; no "
        "upkeep at all measured worse (router 0.434 vs 0.398 CPU-s per 1,000 in a 20,000 "
        "backlog, peak RSS 141.8 vs 134.6 MB). `ROUTER_CONSUMER_MAX_BATCH` stays 400 (idle "
        "100,000 runs: polls of 300 / 400 / 500 peaked at 134.6 / 136.0 / 140.6 MB)."
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
        f"received by the SMTP sink ({data.get('smtp_sink', 'aiosmtpd')}); "
        f"store {data.get('store')}.",
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


def _machine_speed(machine: dict[str, Any]) -> str:
    """The fixed Python workload's CPU time (``bench/machine_speed.py``), if recorded."""
    workload = machine.get("python_workload_ms")
    if not workload:
        return ""
    start, end = workload
    return (
        f" This machine's speed: a fixed Python workload (`bench/machine_speed.py`) took "
        f"{start:g} CPU-ms at the start and {end:g} at the end (best of 5; a run whose "
        "workload took longer ran on a slower machine: compare such runs by their ratios to "
        "the ceilings and by CPU per 1,000, not by their absolute rates)."
    )


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
        f"{', '.join(f'{x:.2f}' for x in end)}.{_machine_speed(machine)}",
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
        "notifier's pool into the bench's SMTP sink — for the whole notice path.",
        "",
        "The SMTP sink (`bench/smtp_sink.py`), the stand-in for the desk's mail server, is a "
        "process of its own: a small compiled server (`bench/smtpsink`, Go standard library, "
        "built by `python -m bench.smtp_sink install`) that answers as aiosmtpd does "
        "(PIPELINING, SIZE, 8BITMIME, SMTPUTF8; the same reply texts, tested side by side) "
        "for ~1/13 of aiosmtpd's CPU a mail, else aiosmtpd itself; each result names the one "
        "it ran against. In production the mail server runs on another host; in the bench it "
        "shares the two cores with what is measured, so a stand-in that costs a fifth of the "
        "machine (aiosmtpd in the 100,000 backlog) would be measured instead of the services.",
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
        "relay has published what the previous phase left). The backlog is published "
        "before the router starts: 2,000 customers' first contacts (a new conversation "
        "each), then follow-ups in their threads; two thirds e-mail, one third WhatsApp; "
        "its throughput runs from the first `InteractionRouted` read to the last.",
        "- **routing event → notice sent**: `bench/notify_throughput.py`, the whole notice "
        "path (sent-log, rendering, SMTP) into the SMTP sink.",
        "- **webhook → agent mail (pipeline)**: `bench/pipeline.py` — the whole system as "
        "processes (LocalSystem), a signed web-chat POST per new visitor at a fixed rate "
        "(the target run: 500/s sustained for 60 s), latency from the scheduled POST to the "
        "SMTP sink receiving the `agent_assigned` mail that names the visitor (a "
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
