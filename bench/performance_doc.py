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
    "2026-11-29 idle run at 01:01 UTC (load 0.59 at the start), after stop 16's store-key, "
    "per-decision, relay, SMTP-transport, mail-writing and router-memory work for issue #16"
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
        "Met in this run with 2 workers (7,840 req/s, p99 at 2,000/s 9.0 ms); one worker 4,800 "
        "req/s, p99 13.6 ms. Same path and limit as chat, with the same one-write answers and "
        "per-minute INFO summary (`PHONE_LOG_LOG_EACH_EVENT`); the producer lingers 2 ms "
        "(`PHONE_LOG_PUBLISH_LINGER_MS`; 5 ms raised the p99 at 2,000/s to 71 ms on the idle "
        "machine). The p99 at 2,000/s swings between idle runs: 43 / 75 ms (1 / 2 workers) in "
        "this session's first idle run (00:33 UTC, same phone code), 9-53 ms in earlier ones; "
        "standalone runs right after, old and new code alternating, gave 5-19 ms, so the tail "
        "was not reproduced and its cause is not known. This session each phone worker freezes "
        "its start-up objects out of the garbage collector as chat's already did (server CPU "
        "per request 221-238 → 204-220 µs in two alternating pairs); that is consistency with "
        "chat, not a proven fix of the tail. One worker per core (`PHONE_LOG_WORKERS`)."
    ),
    "interactions → decisions": (
        "p99 at 1,000/s met on both stores (SQLite 47 ms, PostgreSQL 58 ms). Part of the drop "
        "from 92 / 62 ms is the measurement: `bench.router_throughput` now pauses its own "
        "garbage collector during latency phases (`bench_gc_paused` in bench/common.py, a "
        "collection after each phase). The bench publishes the interactions and reads the "
        "decisions back in one Python process, and its own full collections (24-85 ms, ~6 per "
        "run) held back ~50 events at a time that were then timed from when they were due: one "
        "run against the same router gave p99 108.7 ms with the bench's collector on and 50.7 "
        "ms with it off (`--bench-gc` keeps the old measurement; `--trace` prints where the "
        "slowest 1 % spent their time). Disabling SQLite's automatic checkpoint did not move "
        "the p99 (measured and not adopted). Backlog throughput 3,367 / 2,972 per second "
        "(SQLite / PostgreSQL; 2,723 / 2,481 in the previous idle run), 27 / 36 % of the store "
        "ceiling. This session (stop 16): conversation ids and outbox event ids are "
        "time-ordered and still deterministic (`libs/common/ids.time_ordered_id`, a UUID "
        "version 8 whose first 48 bits are the event's own time, RFC 9562 §5.8): a SQLite poll "
        "of 500 at ~105,000 conversations wrote 5,537 WAL pages, now 2,247 "
        "(`bench/store_growth.py`), its database thread 121 → 64 CPU-ms, its COMMIT 59 → 19; "
        "the largest random keys left are the contacts' (~1,230 of those pages). Per decision: "
        "SLA targets built once per policy, new conversations' values written past SQLAlchemy's"
        " change tracking, changed columns found with the ORM's own equality check, the four "
        "events of every routed interaction built without re-validation when every value is "
        "already its field's exact type (15 tests compare both ways), classification rules "
        "prepared once: 5 % fewer instructions per interaction (valgrind). Relay: already "
        "published "
        "rows left out of each round's read in SQL, marks by runs of ids, shared header bytes, "
        "our own per-partition batches (`send_batches`): 21 → 15 CPU-µs per row. The router "
        "process still costs ~0.74 CPU-s per 1,000 decisions in the backlog (polls of 400) "
        "including Kafka, decode and the relay; 5,000/s per process would need ~0.2, and no "
        "single function is above ~3 % of the router's time (profile below): what is left is "
        "interpreted Python spread over routing, events, SQLAlchemy and aiokafka. A second "
        "replica on PostgreSQL is the lever (assignment already locks)."
    ),
    "routing event → notice sent": (
        "Met: 3,701 notices/s through the whole path (claim, rate window, rendering, SMTP, "
        "batched records), 85 % of the SMTP pool alone (4,355 mails/s); 3,224/s in the previous"
        " idle run. This session (stop 16): the pool is `NOTIFIER_SMTP_POOL_SIZE` lanes, each "
        "one connection with up to `NOTIFIER_SMTP_PIPELINE_DEPTH` (4) mails queued; on a relay "
        "offering PIPELINING a mail's content and the next mail's MAIL FROM / RCPT TO / DATA go"
        " in one write (RFC 2920 §3.1), and each reply settles only its own mail (a refused "
        "recipient, a 552 after the content, a hang-up: tests against aiosmtpd). Writes per "
        "mail 2.0 → 1.01, reads 2.15 → 1.07, loop iterations 1.79 → 0.91. The bench's sinks "
        "answer a pipelined group in one write, as Postfix's smtpd does "
        "(`smtp_sink.PipelinedReplies`; aiosmtpd's parsing unchanged). Mail writing: "
        "quoted-printable per line, each distinct template line once per process "
        "(byte-identical), the Date header once per second, clean ASCII headers passed as is, "
        "`local_time` once per instant, suppressions in one `INSERT … RETURNING` on SQLite: "
        "`Composer.mail` 91-111 → 66-69 µs (busy machine, interleaved). Left per mail: the one "
        "socket write, Jinja rendering (~25 µs), decode of the routing event, the sent-log."
    ),
    "webhook → agent mail": (
        "Met in this run: at 500/s for 60 s all 30,000 agent mails arrived, p50 190 ms, p99 450"
        " ms (432 ms in the previous idle run, 396 ms in this session's first idle run at 00:33"
        " UTC). The machine is 88 % busy at 500/s: one POST costs 3.60 CPU-ms in all (router "
        "1.49, notifier 0.71, chat_ingest 0.56, broker 0.33, SMTP sink 0.29, vegeta 0.22), "
        "about the same as before: at 500/s the router's polls are small, so this session's "
        "per-decision and per-commit gains (which grow with poll and store size) show in the "
        "backlog rather than here. The p99 is queueing close to saturation and swings between "
        "runs. The targets are per process; here five services, the broker, the sink and the "
        "generator share two cores."
    ),
    "backlog recovery": (
        "84.6 s for 100,000 interactions (108 s in the previous idle run, 87.2 s in this "
        "session's first idle run): all routed and all 110,000 notices sent at about the same "
        "time (1,182 decisions/s, 1,300 notices/s). The machine is 93 % busy until all are "
        "routed: 1.56 CPU-s per 1,000 interactions in all (2.01 before): router 0.74 (0.97; "
        "polls of 400 instead of 250 now that the router's floor is ~8 MB lower, and the "
        "store-key, per-decision and relay work), notifier 0.44 (0.61; pipelined mails, mail "
        "writing, time-ordered event ids in its sent-log), SMTP sink 0.26 (0.31; one read per "
        "mail), broker 0.06. On the idle machine, one 100,000 run each, polls of 300 / 400 / "
        "500 gave 98 / 90 / 83 s and router 0.84 / 0.78 / 0.72 CPU-s per 1,000 (peak RSS 134.6 "
        "/ 136.0 / 140.6 MB). 60 s needs the three together under ~1.2 CPU-s per 1,000 "
        "interactions on these two cores (~1.56 now): the router's share is still the largest "
        "and is spread thin (profile below); the notifier's largest item is now its one socket "
        "write per mail."
    ),
    "memory": (
        "Met for every service: router 128 MB in the pipeline and 137 MB in the 100,000 backlog"
        " (idle 109 MB), notifier 107 / 134 MB. This session the router's floor fell ~8 MB: a "
        "calendar's public holidays load only that country's module "
        "(`domain/public_holidays.py`: the `holidays.countries` package imports all ~250 "
        "countries, 7.3 MB) and SQLAlchemy's PostgreSQL dialect is not imported on SQLite (2.3 "
        "MB); the interactions consumer fetches ahead at most 512 KB per partition "
        "(`ROUTER_CONSUMER_PARTITION_FETCH_KB`). With that room `ROUTER_CONSUMER_MAX_BATCH` is "
        "back to 400 (250 in the previous run): 136.0 MB at the 100,000 backlog's peak in a "
        "separate idle run (134.6 with 300, 140.6 with 500; 500 peaked at 148.3 MB on a busy "
        "machine, where the router falls further behind, so 400 keeps room). Why a bigger poll "
        "raises the peak by more than its Python working set (~11 MB from 250 to 500 against ~2"
        " MB of objects) was not isolated. Earlier rounds: no alembic at start when the store "
        "is at `SCHEMA_HEAD`, no provider registry, no asyncpg on SQLite; glibc held to 2 "
        "arenas and a fixed 128 KiB mmap threshold; once a second a full collection and "
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
