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
from bench.pipeline_hops import hops_section

ROOT = Path(__file__).resolve().parents[1]

#: Which profiled processes explain each path of the table.
PROFILED = {
    "raw email → event": [],  # one process parsing: no service to profile
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
    "2026-11-30 idle run started 23:40 UTC (load 0.10 at the start; the fixed workload "
    "106.4 CPU-ms at the start and 115.4 at the end against 96.6 / 90.6 in stop 29's run,"
    " and the bare ASGI app 18,273 against 24,984 req/s: a slower minute of the VM by "
    "10-27 % — compare with earlier runs by the ratios to the ceilings and by CPU per "
    "1,000), after stop 30's work for issue #16 (the pipeline's compiled pacer, the "
    "notifier's sent-log statements in recurring sizes, a router poll's cache reads in "
    "its first hop, CTI numbers without phonenumbers.parse, chat's per-request records "
    "and clock reads)"
)

#: Written from the profiles and the code; keyed like PROFILED.
ANALYSIS: dict[str, str] = {
    "raw email → event": (
        "Met: 1,449 corpus mails per CPU-second of one process, 1,902 for the support mix "
        "(stop 29's run: 1,889 on a faster minute of the VM). Nothing in email_ingest changed"
        " this stop. Stop 29 cut a corpus mail from 3.27 M to 2.83 M instructions "
        "(`bench.email_parse_callgrind`), each faster path with a hypothesis test against the"
        " stdlib code it stands for and a committed sha256 of the normaliser's whole result "
        "for all 119 corpus and defect-fixture mails "
        "(`tests/unit/email_ingest/test_corpus_digest.py`). About 29 % of what is left is "
        "regex matching and ~35 % of the wall time the stdlib FeedParser's line loop."
    ),
    "chat webhook": (
        "Missed on this slower minute: 2,104 / 2,809 req/s with 1 / 2 workers, 11.5 % / 17.6 "
        "% of the bare ASGI app (18,273 / 15,996 req/s; 12.2 / 16.2 % in stop 29's run, above"
        " the 9.0 / 9.9 % the target needed on the faster machine of 2026-11-29); p99 at "
        "2,000/s 273 / 80.9 ms (one worker at saturation: 1,925/s acknowledged; stop 29: 30.8"
        " / 38.3 ms on a minute 27 % faster). One worker spends 384 µs of CPU a request at "
        "full throughput (301 in stop 29's run, ~280 once scaled by the two runs' HTTP "
        "ceilings: about -7 %). This stop, in instructions (`bench.webhook_callgrind --target"
        " chat`): 588.7 → 558.3 K a request (-5.2 %; the whole process under "
        "`bench.webhook_server_callgrind` 1,229.5 → 1,196.6 K): `sane_time` reads a zone's "
        "offset once and gives the UTC instant; `IngestContext`, `WebhookInput` and `Answer` "
        "are filled field by field as `cloud_event` does, each pinned equal to the "
        "constructor's object; the producer makes a record's future and its linger timer on "
        "the accumulator's loop, so `asyncio.get_running_loop()`'s fork check no longer calls"
        " `getpid` for each (`bench.webhook_paced_cpu --syscalls`: 2.9-3.7 → 0.6-1.5 a "
        "request at 500/s). Next: at 500/s a new produce batch opens about every other record"
        " (one per partition); fewer, fuller batches a produce request is a design change of "
        "the partitioning, ~10-15 % of a paced request by estimate."
    ),
    "phone webhook": (
        "Missed: 1,846 / 2,987 req/s with 1 / 2 workers, 9.9 % / 19.5 % of the bare ASGI "
        "ceiling (18,681 / 15,300 req/s; 9.1 / 15.6 % in stop 29's run); p99 at 2,000/s 238 /"
        " 97.6 ms (one worker saturated: 1,924/s acknowledged). One worker spends 498 µs of "
        "CPU a request at full throughput (420 in stop 29's run, ~365 scaled by the HTTP "
        "ceilings: about +13 %, inside this run's noise: the in-process instructions fell). "
        "This stop (`bench.webhook_callgrind --target phone`): the bench's default CTI "
        "callback 859 → 670 K instructions (-22 %), a Twilio callback 986 → 926 K (-6 %): a "
        "number of plain digits (national, or international without `+`) is read without "
        "`phonenumbers.parse`, with the library's own metadata and patterns (an international"
        " prefix, a national-prefix transform rule or a leading zero left takes the whole "
        "path), and validity tries the usual types first instead of walking eight rare ones "
        "(hypothesis over digit strings in all 245 regions, every region's example numbers in"
        " four national forms read in five regions, near-valid variants; record and answer "
        "bytes pinned from stop 29's code for 11 CTI callbacks). The linger "
        "(`PHONE_LOG_PUBLISH_LINGER_MS`) stays 2: right after this run, idle, one worker, two"
        " interleaved pairs: p99 at 2,000/s 206 / 373 ms with 20 against 565 / 491 with 2, "
        "throughput 2,324 / 2,300 against 2,198 / 2,382 req/s (and one run at load 1.9 with "
        "20: 3,094 req/s, 311 µs a request, p99 48 ms). 20 looks better at 2,000/s as it did "
        "at 250/s (-24-33 % CPU in stop 29), but a slow, noisy minute is no basis for a "
        "default: next stop's full idle run with 20 decides it."
    ),
    "interactions → decisions": (
        "Missed: 1,404 / 1,346 decisions a second on SQLite / PostgreSQL, 24.6 % / 40.0 % of "
        "this run's store ceilings (5,705 / 3,369; stop 29's run: 32.0 / 43.8 %); router 0.63"
        " / 0.46 CPU-s per 1,000 decisions. In these two phases the Kafka broker took 0.40 / "
        "0.35 CPU-s per 1,000 (0.08 / 0.10 in stop 29's run: a quarter of the cores); run "
        "again right after, the broker took 0.05 and the router decided 1,585 / 1,366 a "
        "second. p99 at 250 / 500 / 1,000/s: 204 / 198 / 433 ms on SQLite, 180 / 239 / 454 ms"
        " on PostgreSQL (the rerun: 161 / 191 / 276 and 260 / 403 / 1,114). To see whether "
        "this stop's code or the minute made the difference, `bench.router_throughput --store"
        " sqlite` ran afterwards from stop 29's final tree, from the tree before and after "
        "the router's change and from this one, interleaved, twice each: 1,462-1,924 "
        "decisions a second and 0.56-0.73 router CPU-s per 1,000 with no order between the "
        "trees — this machine's run-to-run spread is ±15 %. This stop: a poll's routing-cache"
        " reads (identity owners, Message-IDs, last assignees, candidate conversations) ride "
        "its first hop to SQLite's thread with the known event ids, agents and counter when "
        "none of the poll is known (3 → 2 hops a poll; a partly redelivered poll reads them "
        "in a hop of their own as before; the same SQL and rows pinned against the separate-"
        "hop path). Measured and dropped: one pydantic-core call for a whole poll "
        "(`TypeAdapter(list[Interaction])` over the joined values; "
        "`bench/interaction_batch_decode.py`): 114.8 against 112.1 K instructions a record "
        "and about twice the time. A poll's fixed work is only ~1.1 M instructions (859 K an "
        "interaction in polls of 50, 837 K in polls of 400): an interaction at 500/s costs "
        "twice its backlog CPU in wake-ups, cold caches and the relay round's thread hand-"
        "offs and socket writes (py-spy: the relay ~19 % of the main thread's samples), not "
        "in more Python. On PostgreSQL the store ceiling itself, a bare bulk insert of the "
        "same rows, is 3,369-4,191/s across these stops' runs: below 5,000/s on this machine "
        "whatever the router does."
    ),
    "routing event → notice sent": (
        "Met: 3,617 notices/s through the whole path (claim, rate window, rendering, SMTP, "
        "batched records), 22.5 % of the notifier's SMTP pool alone into the compiled sink "
        "(16,072 mails/s in this run; 20.6 % in stop 29's). This stop: the sent-log's per-"
        "poll SQLite statements come in recurring sizes "
        "(`services/notifier/statement_shapes.py`). At a paced rate almost every poll holds a"
        " number of POSTs no earlier poll held, so the claim INSERT and the `IN (…)` reads "
        "were compiled anew each poll, and the INSERT's numbered marks made the compile "
        "quadratic (a 190-row claim compiled in 6.7-9.7 ms and ran in 1.6 ms; "
        "`sqlite3VListNumToName` 1.2 % of the notifier's CPU at 500/s). INSERTs now run in "
        "chunks of fixed sizes (up to 16 rows exact, then powers of two), only the first row "
        "with numbered marks, and `IN` lists are padded with their last value to a power of "
        "two: -11.3 % of the notice path's instructions when every poll has a new size "
        "(`bench.notify_instructions --spread 40`), unchanged for polls of one size; "
        "libsqlite3 4.9 → 3.5 % of the notifier's CPU at 500/s. Stored rows are pinned equal "
        "for polls of 1, 17, 190 and 600 claims on SQLite and PostgreSQL. Measured and "
        "dropped: one pydantic-core call per poll for the routing events (27-52 µs a record "
        "against 16-20)."
    ),
    "webhook → agent mail": (
        "Met with the pacer, missed with vegeta in the same window. p99 447 ms at 500/s for "
        "60 s, p50 250 ms; 30,000 / 30,000 POSTs acknowledged and their mails delivered (stop"
        " 29's run: 516 ms with vegeta on a faster minute). The machine spent 3.36 CPU-s per "
        "1,000 POSTs, 82 % busy: router 1.16, notifier 0.89, chat_ingest 0.77, broker 0.27, "
        "the pacer 0.17, SMTP sink 0.08. New this stop, the pipeline's load generator is the "
        "pacer (`bench/pacer`, Go standard library, `python -m bench.pacer install`): the "
        "same pre-signed POSTs serialised before the run, written on keep-alive connections, "
        "open loop, at most one wake-up per 4 ms (at 500/s two requests leave together); "
        "latency still counts from each request's due time, so its lag (p99 7.9 ms here) is "
        "counted against the system. Like the SMTP sink it stands in for what runs elsewhere "
        "in production and shares the two cores with what is measured. Right after this run, "
        "the same 60 s with vegeta: p99 676 ms, p50 322 ms, the machine 87 % busy and 3.62 "
        "CPU-s per 1,000 — vegeta 0.34, chat_ingest 0.85, router 1.20, notifier 0.92. Of the "
        "0.26 CPU-s per 1,000 less, 0.17 is the generator itself and ~0.08 chat_ingest (two "
        "requests woken together instead of one every 2 ms; a real arrival process is "
        "burstier still). Hops at 500/s (`bench/pipeline_hops.py`): ingest 4 / 17 ms, route "
        "139 / 281 ms, notify 103 / 229 ms (p50 / p99); the slowest 1 % spent 271 ms in route"
        " and 196 ms in notify. Tried at the start of this stop: both consumer hops' fetch "
        "wait 100 → 50 ms (two interleaved pairs at 500/s): router +0.10-0.15 and notifier "
        "+0.05-0.10 CPU-s per 1,000 and no shorter median; kept 100. On this slower minute "
        "the p99 holds only with the lighter generator: a few points less CPU a POST in the "
        "router and the notifier is still what holds it in every run."
    ),
    "backlog recovery": (
        "Missed: 93.9 s for 100,000 interactions (106 s in stop 29's run on a faster minute; "
        "69.1 s on the faster machine of 2026-11-29); all routed after 93.9 s. As a share of "
        "the store ceiling: 18.7 % (1,065/s of 5,705; 15.7 % in stop 29's run; the target "
        "needed 12.0 % on the faster machine). CPU per 1,000 interactions: machine 1.48 "
        "(1.70), router 0.77 (0.87), notifier 0.53 (0.61), broker 0.08, SMTP sink 0.06: the "
        "backlog's polls differ in size too, so the notifier's sent-log statements are now "
        "compiled once. 60 s on two cores needs at most 1.2 CPU-s per 1,000 of the machine: "
        "19 % less than this run."
    ),
    "memory": (
        "Met for every service: router 123 MB in the pipeline and 136 MB in the 100,000 "
        "backlog, notifier 104 / 111 MB (141 in stop 29's backlog), chat_ingest 79 MB. The "
        "router's backlog peak is now the closest to the limit (`libs/common/memory.py`: "
        "malloc arenas capped at 2 and a fixed 128 KiB mmap threshold before the threads "
        "start, a collection and `malloc_trim` between polls once a second). "
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
        "run-unique id). The generator is the pacer (`bench/pacer`, compiled, pre-signed "
        "requests serialised before the run, open loop: at most one wake-up per 4 ms, so "
        "at 500/s two requests leave together; latency counts from each request's due "
        "time) when built (`python -m bench.pacer install`), else vegeta (about twice the "
        "pacer's CPU a request), else a Python/httpx process; the table's note names it. "
        "Like the SMTP sink it stands in for what runs elsewhere in production (the "
        "customers) and shares the two cores with what is measured. The SMTP sink is a "
        "process of its own; topics and consumer groups are unique to the run. Peak RSS "
        "(`/proc/<pid>/status` VmHWM) of every service is read at the end of that run.",
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
        "## Where a POST's latency goes",
        "",
        *hops_section(get(summary.get("results") or {}, "pipeline", "runs") or []),
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
