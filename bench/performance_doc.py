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
    "2026-11-30 idle run started 06:36 UTC (load 0.70 at the start) on the slower "
    "machine (~2.2-2.6x slower than the runs before 2026-11-29 09:00 UTC), after stop "
    "25's work for issue #16 (per-message cuts in the notifier's mail and outcomes, the "
    "producer's linger window, HMACs keyed once, the PostgreSQL counter read in the "
    "poll's first statement, SQLite instants' text), with a same-machine A/B of the "
    "500/s pipeline against stop 24's code"
)

#: Written from the profiles and the code; keyed like PROFILED.
ANALYSIS: dict[str, str] = {
    "chat webhook": (
        "Missed on this machine, met by the same service on the faster one (5,629 / 7,450 "
        "req/s with 1 / 2 workers, p99 9.1 / 11.8 ms at 2,000/s, in the 2026-11-29 06:58 UTC "
        "run). This run: 1,823 / 2,756 req/s with 1 / 2 workers, 10.4 % / 21.2 % of the bare "
        "ASGI app (17,460 / 12,999 req/s), above the 9.0 / 9.9 % the target needed on the "
        "faster machine (stop 24's idle run: 1,951 / 1,812 req/s, 13.2 / 12.7 %; the "
        "one-worker ceiling rose 14,835 → 17,460 between the runs, the service's own rate "
        "moved within its run-to-run spread). One worker spends 495 µs of CPU a request at "
        "full throughput (481 last run). At 2,000/s offered one worker acknowledges 1,895/s "
        "at p99 262 ms; two acknowledge 1,980/s at p99 76 ms. This stop's changes, counted "
        "in instructions (valgrind, independent of load): inside the app 643.1 → 611.8 K a "
        "web-chat request (-4.9 %): the body's HMAC and the visitor token's come from the "
        "standard library's HMAC object keyed once per key and copied per call (8.7 → 5.3 µs "
        "an HMAC of 600 bytes), and a signed request no longer looks up the absent "
        "`Authorization` header; the whole server 1,280 → 1,254 K (-2.0 %). The Kafka "
        "producer's linger is now one window (`LingerWindow`): a batch opened while another "
        "lingers gets only the linger left, so one wake of aiokafka's sender sends all of "
        "them in one produce request per broker (as Java's producer does); before, each "
        "partition's batch lingered on its own clock and nearly every record went in a "
        "produce request of its own (~150 µs of CPU each against ~30 µs a record inside "
        "one). In process at 500 records/s over 6 partitions: 2.0 → 3.2 records a produce "
        "request, 518 → 431 µs of loop CPU a record. What is left is mostly pydantic-core (8 "
        "validations and 2 JSON encodings a request) and uvicorn. A worker process per core "
        "(`CHAT_INGEST_WORKERS`)."
    ),
    "phone webhook": (
        "As the chat webhook: met by the same service on the faster machine (5,006 / 7,703 "
        "req/s, p99 6.8 / 9.3 ms), missed here. 1,572 / 3,353 req/s with 1 / 2 workers: 9.3 "
        "% / 14.3 % of the bare ASGI ceiling (16,830 / 23,462 req/s), above the 9.0 / 9.7 % "
        "the target needed (stop 24's run: 1,497 / 2,665 req/s, 7.8 / 20.7 %: this machine's "
        "one-worker ceiling has read between 8,000 and 20,000 req/s in runs a few hours "
        "apart, so the share swings more than the service does). One worker spends 586 µs of "
        "CPU a request at full throughput. At 2,000/s offered one worker saturates (1,731/s "
        "acknowledged, p99 657 ms); two reach 1,983/s at p99 106 ms. The producer's linger "
        "window applies to it too. What is left: `phonenumbers` is ~30 % of the app's CPU "
        "for every new number, and the Kafka client per produce request. A worker process "
        "per core (`PHONE_LOG_WORKERS`)."
    ),
    "interactions → decisions": (
        "Missed, and below the share of the store ceiling the target needed on the faster "
        "machine (36.1 % of SQLite's, 62.7 % of PostgreSQL's): 1,558 / 1,367 decisions a "
        "second, 30.6 % / 32.6 % of this run's ceilings (stop 24's idle run: 1,389 / 1,423, "
        "27.5 / 49.4 %); router 0.67 / 0.56 CPU-s per 1,000 decisions (+ PostgreSQL's server "
        "0.28). PostgreSQL's share fell mostly because its ceiling read high in this run "
        "(2,883 → 4,191 interactions/s). These throughput phases last ~2 s (3,000 "
        "interactions) and swing ±15 % between same-machine runs. p99 at 1,000/s 328 / 366 "
        "ms (213 / 310 last run). This stop's changes, counted in instructions (valgrind, "
        "independent of load): PostgreSQL's conversation counter is read, row-locked, in the "
        "poll's first statement instead of a round trip of its own (a poll of 5: 6 → 5 "
        "statements, 10.10 → 9.93 M instructions; SQLite reads it in its first trip to the "
        "database thread, 5 → 4 trips, 6.40 → 6.30 M); a SQLite instant's stored text is "
        "formatted to the second once a second and then given its microseconds (11.3 → 5.9 K "
        "instructions an instant, ~3.7 an interaction); the last pydantic attribute reads of "
        "routing read `__dict__`. An interaction in a poll of 400 856 → 837 K instructions "
        "(-2.3 %), in a poll of 20 960 → 944 K (-1.7 %). What limits it: the router's main "
        "thread (asyncio, under the GIL) runs ~1 core; in a poll of 400 the unit of work's "
        "commit is 158 K instructions an interaction (18 %) and `OutboxWriter.add` 144 K "
        "(2.2 events; pydantic-core's serialisation of each event's payload ~36 K of its 65 "
        "K: writing that JSON in Python instead was tried this stop and cost 91-108 K an "
        "event); ~14 JSON encodes an interaction (~18 K) of which only 3 are traced to the "
        "bulk writer's JSON columns."
    ),
    "routing event → notice sent": (
        "Met: 2,444 notices/s through the whole path (claim, rate window, rendering, SMTP, "
        "batched records), 28.4 % of the notifier's SMTP pool alone into the compiled sink "
        "(8,614 mails/s in this run; 2,377 in stop 24's idle run). This stop cut a POST's "
        "own work in the notifier, which dominates once polls grow: a poll of 20 POSTs of "
        "the pipeline mix 40.26 → 37.63 M instructions (-6.5 %, 2.01 → 1.88 M a POST), a "
        "one-POST poll 2.69 → 2.59 M. The precompiled HTML parts skip markupsafe when a "
        "plain string has nothing to escape; `header_safe` returns any printable text as it "
        "is (Korean subjects and names included); enum values are read without the `value` "
        "property's Python getter; the Date header is cached by its second; the usual "
        "outcome is built as `model_construct` builds it from the handler's own values "
        "instead of being validated a second time (hypothesis tests: the same objects, bytes "
        "and JSON). The mails of the pipeline and backlog mixes are pinned byte for byte by "
        "a test. Left per POST in a poll of 20: the mail ~500 K (rendering ~130 K), the "
        "decode of two routing events ~290 K (pydantic-core validating the conversation "
        "snapshot), the outcomes, the plan ~113 K, the claim and record ~105 K each. The "
        "pool is `NOTIFIER_SMTP_POOL_SIZE` lanes, each one connection with up to "
        "`NOTIFIER_SMTP_PIPELINE_DEPTH` (4) mails queued, pipelined where the relay offers "
        "PIPELINING (RFC 2920 §3.1)."
    ),
    "webhook → agent mail": (
        "Missed on this machine: p99 867 ms at 500/s, p50 463 ms (stop 24's idle run 2,584 "
        "ms; 226 ms on the faster machine, met); 30,000 / 30,000 POSTs acknowledged and "
        "their mails delivered. The machine was 95 % busy for the whole minute: 3.94 CPU-s "
        "per 1,000 POSTs (router 1.24, notifier 1.00, chat_ingest 0.84, vegeta 0.33, broker "
        "0.32, SMTP sink 0.10), where 2 cores at 500/s allow 4.0, so queues grow and p99 is "
        "queueing; this run's machine was faster at the start (the fixed workload 92.7 "
        "CPU-ms against 152 in stop 24's run), which is most of the p99's difference. "
        "Same-machine A/B right after this run (stop 24's code a06c7c0 against this stop's, "
        "500/s for 20 s, interleaved, 3 runs each, load 1.9-2.6 at the ends): the machine "
        "4.07 / 3.96 / 4.01 against 4.06 / 3.88 / 3.82 CPU-s per 1,000 POSTs (means 4.02 → "
        "3.92, -2.4 %; 92-98 % busy); the notifier 1.03 / 0.98 / 1.00 against 1.00 / 0.94 / "
        "0.95 (-4.4 %), chat_ingest 0.90 / 0.93 / 0.92 against 0.92 / 0.92 / 0.84 (-2 %), "
        "the router 1.15 / 1.15 / 1.16 against 1.16 / 1.13 / 1.17 (unchanged), the broker "
        "0.47 / 0.36 / 0.36 against 0.41 / 0.34 / 0.32 (fuller produce requests); p99 2,056 "
        "/ 488 / 701 ms against 1,498 / 593 / 491 ms, p50 719 / 263 / 355 against 713 / 169 "
        "/ 186 ms. So the machine's CPU per POST fell ~2-3 %, mostly in the notifier, within "
        "ranges that still touch; at ~95 % busy p99 swings with each run's queueing (two of "
        "six 20 s runs met 500 ms, one on each side). At 100/s p99 is 136 ms and the machine "
        "spends 8.21 CPU-s per 1,000 POSTs (router 2.37, broker 1.77, chat_ingest 1.69, "
        "notifier 1.51). p50 at 25/s is 70 ms and p99 125 ms: the 50 ms fetch waits of the "
        "router's and the notifier's consumers. What would meet it here for the whole minute "
        "is ~10-15 % less CPU per POST; this stop's per-message cuts (2-6 % a service in "
        "instructions) are a part of that, or a third core."
    ),
    "backlog recovery": (
        "115 s for 100,000 interactions (126 s in stop 24's idle run, 138 s in stop 23's; "
        "69.1 s on the faster machine). As a share of the store ceiling: 17.1 % (868/s of "
        "5,088), above the 12.0 % the 60 s target needed on the faster machine. CPU per "
        "1,000 interactions: machine 1.95 (2.13 last run): router 0.97 (1.03), notifier 0.71 "
        "(0.79), broker 0.10, SMTP sink 0.10, the machine 84 % busy. This machine's speed "
        "moves between and within runs (the fixed Python workload took 92.7 CPU-ms at the "
        "start and 116.3 at the end; 152 → 94.9 in stop 24's run), so compare such runs by "
        "CPU per 1,000 in a same-machine A/B, not by their rates. This stop's router cuts "
        "are ~2 % an interaction in polls of 400 (instructions) and the notifier's ~6.5 % a "
        "POST; the router's main thread, ~0.85 of a core under the GIL, is what limits the "
        "rate."
    ),
    "memory": (
        "Met for every service: router 128 MB in the pipeline and 137 MB in the 100,000 "
        "backlog, notifier 128 / 146 MB, chat_ingest 80 MB. The notifier's backlog peak is "
        "the closest to the limit (144 MB in stop 24's run): in this run its RSS climbed "
        "through the backlog (119 MB at 9 s, 146 MB at the end). After this run it got the "
        "router's memory upkeep (`libs/common/memory.py`: malloc arenas capped at 2 and a "
        "fixed 128 KiB mmap threshold before its threads start, a collection and "
        "`malloc_trim` between polls once a second; `NOTIFIER_MEMORY_UPKEEP_INTERVAL_S`). "
        "Same-machine A/B, the 100,000 backlog with the upkeep off and on, two interleaved "
        "pairs (load 1.9-2.6): RSS at the end 145.3 / 141.5 → 136.1 / 136.4 MB, peak 145.3 / "
        "141.5 → 141.3 / 141.0 MB; it now levels off at ~137-139 MB from the first minute "
        "instead of climbing to the end; notifier CPU per 1,000 0.78 / 0.71 → 0.74 / 0.78 "
        "(unchanged within the spread). The router's upkeep runs as before, bounded to 5 % "
        "of the loop's time. `ROUTER_CONSUMER_MAX_BATCH` stays 400."
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
