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
    "2026-11-30 idle run started 13:52 UTC (load 0.25 at the start; the fixed workload "
    "112.0 CPU-ms, 112.7 in stop 26's run), after stop 27's work for issue #16 (decode's "
    "short path taken by consumed records, the notifier's records without Python "
    "constructors and one-pass plans, the webhook door in front of FastAPI, bound metric "
    "updaters and OpenSSL's HMAC copied, one trip to SQLite's thread fewer a router "
    "poll), with a same-machine A/B of the 100,000 backlog against stop 26's code "
    "(80d3b62)"
)

#: Written from the profiles and the code; keyed like PROFILED.
ANALYSIS: dict[str, str] = {
    "chat webhook": (
        "Missed on this machine, met by the same service on the faster one (5,629 / 7,450 "
        "req/s with 1 / 2 workers, p99 9.1 / 11.8 ms at 2,000/s, in the 2026-11-29 06:58 UTC "
        "run). This run: 2,189 / 2,379 req/s with 1 / 2 workers, 12.0 % / 16.9 % of the bare "
        "ASGI app (18,266 / 14,077 req/s), above the 9.0 / 9.9 % the target needed on the "
        "faster machine (stop 26's run: 2,164 / 2,397 req/s, 10.0 / 14.8 %). One worker "
        "spends 420 µs of CPU a request at full throughput (415 last run). At 2,000/s offered"
        " one worker acknowledges 1,990/s at p99 109 ms; two acknowledge 1,974/s at p99 166 "
        "ms. This stop's changes, counted in instructions (callgrind, independent of load): "
        "the app 599.9 → 581.9 K a web-chat request (-3.0 %): webhook POSTs go through a door"
        " (`WebhookDoor`, `libs/common/webhooks/fastpath.py`) straight to the fast path's "
        "dispatch instead of through FastAPI's and Starlette's `__call__` (two coroutine "
        "frames a request, resumed again at the Kafka ack; every other path still goes to the"
        " app); the request's four Prometheus counts are made by updaters bound once per "
        "labelled child (the same value updates under the same locks, "
        "`libs/common/metric_updates.py`); HMAC-SHA256 is copied from OpenSSL's keyed object "
        "instead of through `hmac.HMAC`'s Python wrapper (36.6 → 33.1 K an HMAC, two a "
        "request); uvicorn's `is_closing` no longer raises and drops an AttributeError per "
        "answer (the bare server -2.1 %). Every provider's sample request's HTTP answer and "
        "Kafka record stay pinned byte for byte. What is left: uvicorn's protocol (~140 K a "
        "request bare; `on_headers_complete` ~37 K) and the Kafka client; in the app, "
        "pydantic-core's one validation, two JSON encodings and attribute reads on the "
        "provider's models. A worker process per core (`CHAT_INGEST_WORKERS`)."
    ),
    "phone webhook": (
        "As the chat webhook: met by the same service on the faster machine (5,006 / 7,703 "
        "req/s, p99 6.8 / 9.3 ms), missed here. 2,006 / 3,152 req/s with 1 / 2 workers: 9.0 %"
        " / 24.1 % of the bare ASGI ceiling (22,386 / 13,063 req/s), at and above the 9.0 / "
        "9.7 % the target needed (stop 26's run: 1,753 / 2,722 req/s, 10.5 / 13.8 %). One "
        "worker spends 475 µs of CPU a request at full throughput (538 last run). At 2,000/s "
        "offered one worker saturates (1,743/s acknowledged, p99 648 ms); two reach 1,981/s "
        "at p99 74.5 ms. This stop: the door and the bound metric updaters apply to it too: "
        "the app 882.2 → 874.1 K instructions a request (-0.9 %; it has no HMAC). What is "
        "left: `phonenumbers` is ~30 % of the app's CPU for every new number, and the Kafka "
        "client per produce request. A worker process per core (`PHONE_LOG_WORKERS`)."
    ),
    "interactions → decisions": (
        "Missed, and below the share of the store ceiling the target needed on the faster "
        "machine (36.1 % of SQLite's, 62.7 % of PostgreSQL's): 1,713 / 1,089 decisions a "
        "second, 28.4 % / 28.8 % of this run's ceilings (6,036 / 3,786; stop 26's idle run: "
        "1,585 / 1,508, 28.4 / 44.3 %); router 0.50 / 0.62 CPU-s per 1,000 decisions (0.56 / "
        "0.48 last run). These phases last ~2 s (3,000 interactions) and swing ±15 % and more"
        " between same-machine runs (PostgreSQL here); p99 at 1,000/s 434 / 1,384 ms (202 / "
        "409 last run). On PostgreSQL the store ceiling itself, a bare bulk insert of the "
        "same rows, is 3,403-4,191/s in this stop's and the last runs: below the 5,000/s "
        "target on this machine whatever the router does. This stop, counted in instructions "
        "(callgrind, independent of load): the interaction's decode now takes its short path "
        "for the records the router consumes (aiokafka hands the headers as a tuple, which "
        "stop 26's short path did not take, so it had only ever run in the benches): 119.6 → "
        "110.7 K a decode; a poll's candidate conversations are read in the same trip to "
        "aiosqlite's thread as the identities' owners (4 → 3 trips a poll; a poll of 25 22.72"
        " → 22.47 M, ~-0.17 M a poll net of the work moved to that thread). A poll's fixed "
        "cost, measured over polls of 5, 25 and 400: routing 2.10 M a poll + 824.8 K an "
        "interaction, the relay's round ~2.77 M + ~99 K a row; at polls of 25 each fixed part"
        " is ~9-10 % of the thread. A mypyc build of the router's 8 hottest modules was "
        "measured and not shipped (`docs/compiled.md`): 822.2 → 734.3 K an interaction (-10.7"
        " %), because the eval loop runs only ~26 % of the router's instructions; the rest is"
        " SQLAlchemy's unit of work, asyncio, pydantic-core, SQLite and aiokafka, which "
        "compiled code calls at the same cost. What limits it: the router's main thread "
        "(asyncio, under the GIL) runs ~1 core; in a poll of 400 pydantic-core is ~196 K an "
        "interaction (24 %; the outbox payloads ~143 K an interaction in `OutboxWriter.add`, "
        "55 % of it pydantic-core: the snapshot's JSON 50 K, each event's own fields 15.5 K, "
        "its id ~12 K), the unit of work's commit ~158 K, the relay ~106 K."
    ),
    "routing event → notice sent": (
        "Met: 2,609 notices/s through the whole path (claim, rate window, rendering, SMTP, "
        "batched records), 21.4 % of the notifier's SMTP pool alone into the compiled sink "
        "(12,163 mails/s in this run; 2,377 / 16,142 in stop 26's). This stop, counted in "
        "instructions (`bench.notify_instructions --mix pipeline --instr-window`, polls of 1,"
        " 5 and 25 POSTs, now fed records as the consumer gets them: the relay's seven "
        "headers in aiokafka's tuple): a POST 1.779 → ~1.65 M (-7 %), a poll's fixed part "
        "~0.85-1.0 M. A routing event's decode takes its short path for consumed records "
        "(143.3 → 134.5 K: stop 26's short path took only a list of six headers, which no "
        "consumed record is); `plan_notifications` sorts its decisions in one pass (58.2 → "
        "50.0 K an event); an outcome's `ce_time` is built from the text of its second plus "
        "the microseconds (12.2 → 7.6 K); 17 per-notice records (plans, notices, mail "
        "metadata, sent-log values) are built with their slots' setters or `tuple.__new__` "
        "instead of their generated Python `__init__`/`__new__` "
        "(`services/notifier/records.py`; -66 K a POST, -3.8 %). The mails stay byte for byte"
        " the same. At the pipeline's ~25 POSTs a poll the in-process fixed part is ~2 % of a"
        " poll: the notifier's higher CPU per POST in the pipeline than in the backlog is not"
        " its per-poll Python work. Left per POST: the mail (~250 K, its quoted-printable "
        "~145 K), the decodes (~135 K each, ~113 K of it pydantic-core), rendering ~85 K, the"
        " SQLite sent-log statements. A mypyc build of the mail and decision modules measured"
        " -4.0 % a POST (not shipped, `docs/compiled.md`). The pool is "
        "`NOTIFIER_SMTP_POOL_SIZE` lanes, each one connection with up to "
        "`NOTIFIER_SMTP_PIPELINE_DEPTH` (4) mails queued, pipelined where the relay offers "
        "PIPELINING (RFC 2920 §3.1)."
    ),
    "webhook → agent mail": (
        "Missed on this machine: p99 2,070 ms at 500/s, p50 793 ms (stop 26's idle run 1,864 "
        "/ 1,005 ms; stop 25's 867 ms; 226 ms on the faster machine, met); 30,000 / 30,000 "
        "POSTs acknowledged and their mails delivered. The machine was 93 % busy for the "
        "whole minute: 3.85 CPU-s per 1,000 POSTs (3.94 last run on a machine of the same "
        "speed by the fixed workload): router 1.19 (1.15), notifier 0.93 (0.98), chat_ingest "
        "0.86 (0.93), broker 0.33, vegeta 0.33, SMTP sink 0.09, where 2 cores at 500/s allow "
        "4.0: queues grow and p99 is queueing, which swings by seconds between runs this "
        "close to saturation (stop 26's same-machine A/B: p99 653-5,266 ms for the same "
        "code). At 100/s p99 is 137 ms and the machine spends 8.68 CPU-s per 1,000 POSTs "
        "(router 2.53, chat_ingest 2.05, broker 1.91, notifier 1.58); p50 at 25/s is 84 ms "
        "and p99 139 ms: the 50 ms fetch waits of the router's and the notifier's consumers. "
        "The router and the notifier spend more a message here than in the 100,000 backlog "
        "(1.19 / 0.93 against 1.02 / 0.75): their in-process fixed cost a poll is 9-10 % "
        "(router) and ~2 % (notifier) of a poll of the pipeline's size under callgrind, so "
        "most of the difference is what callgrind does not count there: the Kafka clients' "
        "fetches, commits and produce requests, the database thread, and the kernel's wake-"
        "ups and socket work for ~25 small polls a second. What would meet it here for the "
        "whole minute is ~10-15 % less CPU per POST than this run's, or a third core."
    ),
    "backlog recovery": (
        "127 s for 100,000 interactions (115 s in stop 26's idle run; 69.1 s on the faster "
        "machine of 2026-11-29). As a share of the store ceiling: 13.1 % (790/s of 6,036). "
        "CPU per 1,000 interactions: machine 2.12 (1.90 last run): router 1.02 (0.94), "
        "notifier 0.75 (0.69), broker 0.11 (0.09), SMTP sink 0.09 (0.08), the machine 84 % "
        "busy: every process, the unchanged Java broker and Go sink too, spent 8-20 % more "
        "than in the last run. Same-machine A/B after this run (stop 26's code 80d3b62, then "
        "this stop's, a new broker for each, two pairs): all routed and notified after 120.4 "
        "/ 131.6 s against 130.5 / 143.6 s; in run order (base, new, base, new) 120, 130, 132"
        " and 144 s, each run slower than the one before, so the order favours the base; the "
        "router 0.972 / 1.023 against 0.985 / 1.055 CPU-s per 1,000 interactions, the "
        "notifier 0.729 / 0.763 against 0.706 / 0.780, the broker 0.17 / 0.27 against 0.37 / "
        "0.44, the machine 2.03 / 2.23 against 2.23 / 2.51: no difference of the size of this"
        " stop's cuts on the router's thread (~1-2 %) can be read from it, and none is "
        "claimed. This stop's cuts, in instructions: the router's decode -8.9 K an "
        "interaction and one trip to SQLite's thread fewer a poll; the notifier ~-7 % a POST "
        "of the pipeline mix. The router's thread does ~940 K instructions an interaction "
        "with its relay; 60 s on this machine would need about half of that. Compiling its 8 "
        "hottest modules with mypyc measured -10.7 % (`docs/compiled.md`): neither per-"
        "message cuts nor compiled code of our own reach that; what remains is spread over "
        "pydantic-core (~24 %), the unit of work's commit (~16 %), the relay (~11 %) and "
        "SQLAlchemy's and asyncio's own work."
    ),
    "memory": (
        "Met for every service: router 133 MB in the pipeline and 136 MB in the 100,000 "
        "backlog, notifier 132 / 143 MB, chat_ingest 79 MB. The notifier's backlog peak stays"
        " the closest to the limit: 119 MB at 11 s, 142 MB at 78 s, 136 MB at the end "
        "(`libs/common/memory.py`: malloc arenas capped at 2 and a fixed 128 KiB mmap "
        "threshold before its threads start, a collection and `malloc_trim` between polls "
        "once a second; `NOTIFIER_MEMORY_UPKEEP_INTERVAL_S`). The A/B backlogs' peaks: router"
        " 137.1 / 135.1 against 136.1 / 135.8 MB, notifier 141.4 / 140.1 against 139.8 / "
        "140.6 MB (stop 26's code against this stop's). The router's upkeep runs as before, "
        "bounded to 5 % of the loop's time. `ROUTER_CONSUMER_MAX_BATCH` stays 400."
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
