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
    "2026-11-30 idle run started 04:00 UTC (load 0.04 at the start) on the slower "
    "machine (~2.2-2.6x slower than the runs before 2026-11-29 09:00 UTC), after stop "
    "24's work for issue #16 (the router's candidate conversations read by the driver "
    "and made persistent as SQLAlchemy's loader makes them, field reads and one clock "
    "read per poll in the decisions, the notifier's per-poll claims, tasks and log line, "
    "the webhook fast path in front of the middleware, one ack timer and one keep-alive "
    "timer), with a same-machine A/B of the 500/s pipeline against stop 23's code"
)

#: Written from the profiles and the code; keyed like PROFILED.
ANALYSIS: dict[str, str] = {
    "chat webhook": (
        "Missed on this machine, met by the same service on the faster one (5,629 / 7,450 "
        "req/s with 1 / 2 workers, p99 9.1 / 11.8 ms at 2,000/s, in the 2026-11-29 06:58 UTC "
        "run). This run: 1,951 / 1,812 req/s with 1 / 2 workers, 13.2 % / 12.7 % of the bare "
        "ASGI app (14,835 / 14,277 req/s), above the 9.0 / 9.9 % the target needed on the "
        "faster machine (stop 23's idle run of 01:03 UTC: 1,678 / 2,029 req/s, 9.9 / 13.7 "
        "%). One worker spends 481 µs of CPU a request at full throughput. At 2,000/s "
        "offered one worker acknowledges 1,971/s at p99 242 ms and two 1,908/s at p99 273 "
        "ms: both saturate on 2 cores that also run the load generator and the broker. This "
        "stop's changes, counted in instructions (valgrind, independent of load): inside the "
        "app 680.3 → 645.6 K a web-chat request (-5.1 %): the fast path is the app's "
        "outermost ASGI layer (`install_fast_path`), in front of Starlette's and FastAPI's "
        "middleware (four coroutines fewer a request), it times requests and answers bugs "
        "with the app's own 500 handler; JSON answers are pydantic-core's bytes with their "
        "two headers built directly; `ChatEvent.cloud_event` builds through "
        "`cloudevents.cloud_event`. The Kafka producer bounds all waiting acks with one loop "
        "timer (`AckDeadlines`): -17.4 K a record; the server keeps one keep-alive timer per "
        "connection (`KeepAlive`): -3.9 K a request. The whole server was ~1,325 K "
        "instructions a request before these (uvicorn ~150 K, the app ~680 K, the Kafka "
        "client the rest); the three cuts sum to ~56 K (~4 %). What is left is mostly the "
        "Kafka client per produce request (aiokafka's sender loop, its request encoding and "
        "response decoding) and pydantic-core (~21 % of the instructions). A worker process "
        "per core (`CHAT_INGEST_WORKERS`)."
    ),
    "phone webhook": (
        "As the chat webhook: met by the same service on the faster machine (5,006 / 7,703 "
        "req/s, p99 6.8 / 9.3 ms), missed here. 1,497 / 2,665 req/s with 1 / 2 workers: 7.8 "
        "% / 20.7 % of the bare ASGI ceiling (19,136 / 12,884 req/s), so one worker reads "
        "below the 9.0 % the target needed and two above the 9.7 %. The service's own rate "
        "rose from stop 23's idle run (1,096 / 2,362 req/s) while its one-worker ceiling "
        "more than doubled (8,226 → 19,136 req/s): the one-worker ceiling of this machine "
        "has read between 8,000 and 20,000 req/s in runs a few hours apart, so its share "
        "swings more than the service does (13.3 % last run). One worker spends 630 µs of "
        "CPU a request at full throughput. This stop's shared changes apply to it too (the "
        "fast path in front of the middleware, one ack timer, one keep-alive timer). At "
        "2,000/s offered one worker saturates (1,778/s acknowledged, p99 549 ms); two reach "
        "1,956/s at p99 142 ms. What is left: `phonenumbers` is ~30 % of the app's CPU for "
        "every new number, and the Kafka client per produce request. A worker process per "
        "core (`PHONE_LOG_WORKERS`)."
    ),
    "interactions → decisions": (
        "Missed, and below the share of the store ceiling the target needed on the faster "
        "machine (36.1 % of SQLite's, 62.7 % of PostgreSQL's): 1,389 / 1,423 decisions a "
        "second, 27.5 % / 49.4 % of this run's ceilings (stop 23's idle run: 1,472 / 1,372, "
        "28.1 / 36.4 %); router 0.70 / 0.56 CPU-s per 1,000 decisions (+ PostgreSQL's server "
        "0.26). PostgreSQL's share rose mostly because its ceiling read low in this run "
        "(3,766 → 2,883 interactions/s). These throughput phases last ~2 s (3,000 "
        "interactions) and swing ±15 % between same-machine runs. p99 at 1,000/s 213 / 310 "
        "ms (262 / 471). This stop's changes, counted in instructions (valgrind, independent "
        "of load): a poll's candidate conversations are read by the driver and made "
        "persistent objects the way SQLAlchemy's own loader makes them "
        "(`services/router/store/persistent.py`: a new instance without `__init__`, its "
        "`__dict__` filled, the identity key and load path set, added to the identity map), "
        "119.5 K instructions a conversation against the ORM query's 121.4 K; the agents "
        "read every poll go the same way. A poll of 5 fell 7.98 → 6.43 M on SQLite (-19.4 %) "
        "and 11.70 → 10.21 M on PostgreSQL (-12.8 %); a poll of 500 is unchanged (437.5 → "
        "436.6 M, 465.5 → 465.2 M). The decisions read the interaction's fields from "
        "`__dict__` instead of through pydantic's `__getattr__` hook (~100 reads an "
        "interaction) and read the clock once a poll unless an interaction is stamped after "
        "it: 883 → 871 K instructions an interaction (-1.4 %). What limits it: the router's "
        "main thread (asyncio, under the GIL) runs ~1 core; in a poll of 500 pydantic's "
        "serialisation of the outbox events (~55 % of `OutboxWriter.add`, 65 K instructions "
        "an event; the conversation snapshot alone 42.8 K, and neither a str schema for its "
        "enums, dropping its datetimes nor per-call `exclude` paid), the ORM's flush and "
        "commit, and ~40 remaining pydantic attribute reads an interaction. Left for "
        "PostgreSQL: the counter's row-locked read folded into the poll's first round trip "
        "(~7 % of a poll of 5), and the COPYs' foreign-key checks in polls of 500."
    ),
    "routing event → notice sent": (
        "Met: 2,377 notices/s through the whole path (claim, rate window, rendering, SMTP, "
        "batched records), 24.6 % of the notifier's SMTP pool alone into the compiled sink "
        "(9,668 mails/s in this run; 2,124 in stop 23's idle run). This stop cut the "
        "notifier's fixed cost per poll, which the pipeline's small polls pay: a poll of one "
        "POST 3.05 → 2.68 M instructions (-12 %; its CPU in an interleaved A/B 2,904 → 2,554 "
        "µs, load 14-22): the poll-count INFO line at most once per 10 s (counting the polls "
        "since the last), the group commit's linger under `asyncio.timeout` instead of "
        "`wait_for`'s task, a poll's one mail sent without a worker task and `gather`, and "
        "the poll's mails and chat messages claimed in one sent-log statement (one SQLite "
        "transaction less a poll). A poll of 20 is unchanged (40.4 → 40.3 M): there a POST's "
        "own work dominates, ~2 M instructions (the mail ~520 K, of it rendering ~140 K and "
        "the two MIME bodies ~150 K; the decode ~290 K, mostly pydantic validating the "
        "conversation snapshot; the outcomes ~290 K; the plan ~115 K; the claim and record "
        "~105 K each). The pool is `NOTIFIER_SMTP_POOL_SIZE` lanes, each one connection with "
        "up to `NOTIFIER_SMTP_PIPELINE_DEPTH` (4) mails queued, pipelined where the relay "
        "offers PIPELINING (RFC 2920 §3.1)."
    ),
    "webhook → agent mail": (
        "Missed on this machine: p99 2,584 ms at 500/s, p50 592 ms (stop 23's idle run 3,025 "
        "ms; 226 ms on the faster machine, met); 30,000 / 30,000 POSTs acknowledged and "
        "their mails delivered. The machine was 96 % busy for the whole minute: 3.96 CPU-s "
        "per 1,000 POSTs (router 1.20, notifier 1.00, chat_ingest 0.87, vegeta 0.33, broker "
        "0.31, SMTP sink 0.10), where 2 cores at 500/s allow 4.0, so queues grow and p99 is "
        "queueing. Same-machine A/B right after this run (stop 23's code e091d64 against "
        "this stop's, 500/s for 20 s, interleaved, load 0.1-2.4 at the ends; one base run "
        "lost to a broker that did not start): p99 3,841 / 1,168 / 1,409 / 2,151 ms against "
        "3,843 / 1,893 / 1,587 / 1,141 / 2,246 ms; the machine 4.27 / 3.99 / 4.01 / 4.13 "
        "against 4.34 / 4.15 / 4.16 / 3.95 / 4.17 CPU-s per 1,000 (95-98 % busy both); "
        "router 1.09-1.21 against 1.11-1.21, chat_ingest 0.89-0.98 against 0.88-0.94, "
        "notifier 0.99-1.06 against 1.03-1.10. So at saturation this stop's code is "
        "unchanged within the spread (the notifier's mean reads ~5 % higher, inside "
        "overlapping ranges: a point to check). That fits what its changes cut: fixed costs "
        "per poll (the router's poll of 5 -19 % on SQLite, the notifier's one-POST poll -12 "
        "%), while under saturation polls grow and a POST's own work dominates (the "
        "notifier's poll of 20 unchanged). At 100/s p99 is 148 ms and the machine spends "
        "10.1 CPU-s per 1,000 POSTs (router 2.64, chat_ingest 2.10, notifier 1.76; stop 23's "
        "run 8.94: this run's machine was slower at its start, 152 against 114 CPU-ms for "
        "the fixed workload). p50 at 25/s is 76 ms and p99 127 ms: the 50 ms fetch waits of "
        "the router's and the notifier's consumers. What would meet it here for the whole "
        "minute is ~10-15 % less CPU per POST in the per-message work (the router's outbox "
        "serialisation and flush, the notifier's decode, mail and outcomes, chat_ingest's "
        "Kafka client), or a third core."
    ),
    "backlog recovery": (
        "126 s for 100,000 interactions (138 s in stop 23's idle run, 95.8 s in stop 22's; "
        "69.1 s on the faster machine). As a share of the store ceiling: 15.7 % (792/s of "
        "5,050), above the 12.0 % the 60 s target needed on the faster machine. CPU per "
        "1,000 interactions: machine 2.13 (2.37 last run): router 1.03 (1.09), notifier 0.79 "
        "(0.82), SMTP sink 0.11, broker 0.09, the machine 84 % busy. This machine's speed "
        "moved within the run (the fixed Python workload took 152 CPU-ms at the start and "
        "94.9 at the end; 114.0 in stop 23's run), so compare such runs by CPU per 1,000 in "
        "a same-machine A/B, not by their rates: stop 23's A/B of 20,000-interaction "
        "backlogs read 1.79-1.86 CPU-s per 1,000 for the machine on the same code. This "
        "stop's router and notifier changes cut the fixed cost of small polls; a backlog's "
        "polls are large (400 interactions), where they change little (a router poll of 500 "
        "unchanged in instructions, a decision -1.4 %). The router's main thread, ~0.8 of a "
        "core under the GIL, is what limits the rate."
    ),
    "memory": (
        "Met for every service: router 133 MB in the pipeline and 137 MB in the 100,000 "
        "backlog (idle 109 MB), notifier 130 / 144 MB (idle 92 MB). The notifier's backlog "
        "peak is the closest to the limit (142 MB in stop 23's run): its RSS grows through "
        "the run (123 MB at 11 s, 144 MB at the end). The router's memory upkeep runs "
        "between the consumer's polls (collecting the younger generations, the whole heap "
        "every 10th time, then `malloc_trim`), bounded to 5 % of the loop's time. "
        "`ROUTER_CONSUMER_MAX_BATCH` stays 400."
    ),
}

#: The ceilings of the idle run the throughput targets were last met or missed on, on
#: the faster machine (2026-11-29 06:58 UTC, load 0.36; its Kafka producer ceiling
#: 117,605 msg/s, the issue's own measurement 127,563): the yardstick for reading a
#: slower machine's figures against the targets (``_relative``). Keyed by ceiling name.
REFERENCE_RUN = "the idle run of 2026-11-29 06:58 UTC, load 0.36, on the faster machine"
REFERENCE_CEILINGS: dict[str, float] = {
    "SQLite store": 13_867,
    "PostgreSQL store": 7_980,
    "bare ASGI HTTP (chat POSTs)": 55_332,
    "bare ASGI HTTP (chat POSTs, 2 workers)": 50_624,
    "bare ASGI HTTP (phone POSTs)": 55_396,
    "bare ASGI HTTP (phone POSTs, 2 workers)": 51_491,
}
#: the backlog target as a rate: 100,000 interactions routed and notified in 60 s
BACKLOG_TARGET_RATE = 100_000 / 60
_STORE_METHOD = re.compile(r"(?<=store) \([^)]*\)$")

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


def _at_least(target: str) -> float | None:
    """``5000`` from "≥ 5,000/s" or "≥ 5,000 req/s"; None for any other target."""
    found = re.match(r"≥ ([\d,]+)", target)
    return float(found.group(1).replace(",", "")) if found else None


def _relative(rows: list[dict[str, Any]]) -> list[str]:
    """Each throughput target read as the share of its ceiling it needed on the reference
    machine: a slower machine lowers the ceiling and the figure together, so a figure that
    reaches that share would have met the target there. An estimate beside the verdict
    above, never instead of it."""
    out = [
        f"The targets were set, and last measured, on a faster machine. This table reads each "
        f"throughput target as the share of its ceiling it needed there ({REFERENCE_RUN}) and "
        "puts this run's share beside it: a figure at or above that share would have met "
        "the target on that machine. It is an estimate (a path need not slow exactly as its "
        "ceiling does); the verdicts above stand.",
        "",
        "| path | figure | ceiling then | target's share then | this run's share | reading |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        share = r.get("ceiling_pct")
        # "SQLite store (driver) 5,862 interactions/s" → "SQLite store": the store's
        # method (driver, executemany, COPY) does not change the yardstick
        name = _STORE_METHOD.sub("", str(r.get("ceiling", "")).rsplit(" ", 2)[0])
        reference = REFERENCE_CEILINGS.get(name)
        if r["path"] == "backlog recovery" and r["figure"] == "routed and notified per second":
            target = BACKLOG_TARGET_RATE
        else:
            target = _at_least(r.get("target", ""))
        if share is None or reference is None or target is None:
            continue
        needed = 100 * target / reference
        reading = "at the target's share" if share >= needed else "**below the target's share**"
        out.append(
            f"| {r['path']} | {r['figure']} | {_fmt(reference)} | {needed:.1f} % | "
            f"{share:.1f} % | {reading} |"
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
        "### The throughput targets as shares of their ceilings",
        "",
        *_relative(summary.get("rows", [])),
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
