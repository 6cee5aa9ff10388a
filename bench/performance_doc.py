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
    "IMAP arrival": [],  # email_ingest in IDLE: not profiled
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
    "2026-12-02 idle run started 17:09 UTC (load 0.51 at the start; the fixed "
    "workload 63.5 CPU-ms, a VM a little slower than stop 41's 61.6), after stop 42's"
    " work for issue #16 (the loop thread's cuts: a poll's prefetch plan in one pass,"
    " E.164 numbers' identity keys without the patterns, a breach timer row copied "
    "from its metric's template, threading decisions built by tuple.__new__, the "
    "counter read once; a new conversation's columns read once and handed on, its "
    "policy's opening terms worked out once per policy; the outbox row made in one "
    "call and the cause's JSON text memoised; SQLite's run-repeat binding cut to "
    "constants, the outbox's occurred_at bound once a statement). The ceilings are "
    "lower than stop 41's (SQLite's store 13,357 against 15,252, PostgreSQL's 6,399 "
    "against 7,326, HTTP 49,732 against 47,963): compare runs by callgrind counts, "
    "interleaved pairs and shares of the ceilings."
)

#: Written from the profiles and the code; keyed like PROFILED.
ANALYSIS: dict[str, str] = {
    "IMAP arrival": (
        "Met in this run: p99 117 ms over 200 mails (p50 60, max 122; stop 32's run "
        "1,043 ms, its reruns ~516). The ~500 ms was Dovecot's: in 2.3 an IDLE session "
        "hears of new mail 500 ms after the first change (`NOTIFY_DELAY_MSECS`, "
        "compiled in; `mailbox_idle_check_interval` is only a fallback), measured with "
        "`bench.imap_latency --hops` (the service's IMAP through a stamping relay). "
        "email_ingest now looks again (NOOP + UID SEARCH) `EMAIL_INGEST_RECHECK_S` "
        "(0.1 s) after a look that found mail, and goes back to IDLE after five empty "
        "looks; a fetched batch's events are in flight together. Four interleaved "
        "pairs at load 7-9: p50 315-329 → 93-101 ms, p99 577-626 → 201-280 ms. The one "
        "late mail caught (1,005 ms of 3,000) was an APPEND that took 510 ms inside "
        "Dovecot, then the notice: the first mail into an idle mailbox still waits "
        "Dovecot's 500 ms."
    ),
    "raw email → event": (
        "Met: 2,519 corpus mails per CPU-second of one process, 3,050 for the support "
        "mix (stop 31's run 1,436 / 2,244, on a VM ~1.9x slower by the fixed "
        "workload). Nothing in email_ingest's parsing changed this stop. Stop 29 cut a "
        "corpus mail from 3.27 M to 2.83 M instructions "
        "(`bench.email_parse_callgrind`), each faster path with a hypothesis test "
        "against the stdlib code it stands for and a committed sha256 of the "
        "normaliser's whole result for all 119 corpus and defect-fixture mails "
        "(`tests/unit/email_ingest/test_corpus_digest.py`)."
    ),
    "chat webhook": (
        "Met in stop 39's idle run (a fast VM): one worker 6,784 req/s, 13.1 % of the"
        " bare ASGI app (51,699 req/s), two workers 9,645 req/s; p99 at 2,000/s 13.2 "
        "/ 25.1 ms. Stop 38's run on a slow VM (the fixed workload 103 CPU-ms) missed"
        " with one worker, 4,374 req/s at 12.5 % of 35,044: the service's share of "
        "its ceiling held, the VM moved both. Stop 38's cuts "
        "(`bench.webhook_server_callgrind --concurrency 64 --requests 2000`: 647.7 → "
        "589.1 K instructions a request, -9.0 %: the answer handed to uvicorn's "
        "httptools cycle in one call, `webhooks/whole_answer.py`; the Interaction's "
        "JSON by orjson, `libs/common/model_json.py`) show on the wall clock in five "
        "interleaved pairs (`bench.webhook_load --target chat --workers 1 "
        "--no-ceiling --duration 5`, 2026-12-02 06:10-06:12 UTC, load 0.8-1.2, the "
        "fixed workload 69.2 CPU-ms): base 6863f81 6,600 / 7,649 / 8,100 / 8,491 / "
        "7,668 against 7,167 / 8,309 / 8,794 / 8,206 / 7,643 req/s, means 7,702 → "
        "8,024 (+4.2 %), the server's CPU a request 124.2 → 119.1 µs (-4.1 %). Stop "
        "39's deterministic ids (the SHA-1's hex text sliced: 18.8 → 15.3 K an id) "
        "reach chat too. The services' advice stays one worker per core given to the "
        "service (services/chat_ingest/README.md)."
    ),
    "phone webhook": (
        "Met in stop 39's idle run (a fast VM): one worker 6,983 req/s, 12.4 % of the"
        " bare ASGI app (56,325 req/s), two workers 11,340 req/s; p99 at 2,000/s 12.6"
        " / 23.5 ms (stop 38's slow-VM run missed: 4,687 / 4,794 req/s). Instructions"
        " a callback at full throughput, the whole process "
        "(`bench.webhook_server_callgrind --target phone --concurrency 64 --requests "
        "2000`, base 927a125 and stop 39's tree started together, four pairs "
        "06:53-07:18 UTC): 643.4-647.1 → 621.9-622.5 K (-3.3 %): the number parsed by"
        " fast paths that read each region's metadata from one object made once "
        "(`services/phone_log/phone_numbers.py`, the same answers as phonenumbers, "
        "property-tested against it: 50.8 → 33.0 K a new national number), the call's"
        " CallDetails and its caller built from values already of their fields' types"
        " without validating again (`libs/providers/prevalidated.py`: 43.3 → 28.3 K "
        "and 11.3 → 8.2 K), deterministic ids from the SHA-1's hex text (18.8 → 15.3 "
        "K). Left: the number's validity patterns (~11 K), CallDetails' 19 keyword "
        "arguments (~28 K), the event id (~15 K), HTTP and the Kafka client (~130 K)."
    ),
    "interactions → decisions": (
        "**Throughput: missed.** Over a 20,000 backlog, 4,473 decisions/s on SQLite "
        "(33.5 % of the store's 13,357; 5,000/s would be 37.4 %) and 3,164/s on "
        "PostgreSQL (49.4 % of 6,399; 5,000/s would be 78.1 %); stop 41's run had "
        "25.8 % and 44.0 %. The router spent 0.215 / 0.220 CPU-s per 1,000 decisions "
        "(stop 41: 0.238 / 0.218; PostgreSQL's server 0.142 more). p99 at 1,000/s "
        "54.3 / 68.5 ms (met).\n\n- **This stop's cuts, by callgrind** "
        "(PYTHONHASHSEED=0, base c4b065c and each branch started together, "
        "`bench.router_poll_callgrind`, (3 - 1 polls) / 800, K instructions an "
        "interaction on the loop thread): 498.0 → 480.0 with the poll's prefetch plan"
        " in one pass instead of six comprehensions (30.8 → 16.9 alone), an E.164 "
        "number's identity keys without the patterns and dedupe, a breach timer row "
        "copied from its metric's template (a new conversation's "
        "`on_customer_message` 34.3 → 32.2), `ThreadDecision` by `tuple.__new__` and "
        "the bounce asked only of a bounce, the counter read once (rprefetch); 498.4 "
        "→ 494.0 with a new conversation's column view handed to `_apply_effect`, "
        "`assign_or_queue` and `queue_conversation` instead of read again (~1.5 K a "
        "read) and its policy's opening terms (the business-hours note, the "
        "first-response target, the calendar's name) worked out once per policy "
        "(ropenconv); 497.6 → 494.1 with the outbox row made in `add_json` itself "
        "(13.1 → 11.9 K a row) and the cause's JSON text taken from the writers' memo"
        " (remitter); 498.4 → 496.8 with the outbox's `occurred_at` bound once a "
        "multi-row INSERT (aiosqlite's thread 251.1 → 249.1, its GIL-held part 79.4 →"
        " 77.3) and the run-repeat binding cut to constants (rparams). The merged "
        "tree: 497.7 → 471.7 K (-5.2 %, base and main started together at 17:18 UTC)."
        "\n- **Where the time goes** (lead, idle, `bench.router_poll_split` around "
        "`bench.router_throughput --store sqlite`, 15:36 UTC): in the backlog the "
        "loop thread ran 67-69 % of the wall time and slept ~27 %, aiosqlite's thread"
        " ran ~24 %; the consumer's hops to that thread were 31-33 % of the wall "
        "time, getmany 1 %. Of aiosqlite's ~252 K instructions an interaction 31 % "
        "hold the GIL (`bench.router_db_thread_callgrind`: 80 K, mostly binding ~53 "
        "strings; 172 K inside `sqlite3_step`). The loop's work and the database "
        "thread's are serial: each poll's routing needs the reads at its start and "
        "the next poll's needs its commit.\n- **Tried, not kept: filling those "
        "waits.** (1) The consumer's next full poll decoded while the routing awaits "
        "the database (a hook in the SQLite driver's hops and around PostgreSQL's "
        "first read and COMMIT, `libs/common/idle_work.py`), the relay's rounds held "
        "for those waits, the GIL's switch interval 0.2 ms: it worked as meant (12 of"
        " 13 polls of a 4,000 backlog taken ahead, every chunk decoded in a wait) and"
        " bought nothing: interleaved idle pairs (16:56-17:01 UTC, load 0.9-1.6) "
        "SQLite 4,150 / 4,216 / 4,174 / 3,967 / 4,178 / 4,288 decisions/s off against"
        " 4,240 / 4,014 / 3,985 / 3,797 / 4,252 / 4,284 on, router CPU per 1,000 "
        "0.221-0.242 against 0.224-0.256; PostgreSQL 3,623 / 3,380 / 3,473 against "
        "3,410 / 3,463 / 3,527 (branch `readahead`). (2) SQLite's rows sent ahead "
        "while the poll is decided, a third time: `PRAGMA defer_foreign_keys` expires"
        " every prepared statement (`sqlite3_prepare_v2` 6.3 → 73.7 M instructions "
        "over 3 polls of 400) and with deferred keys each new conversation's INSERT "
        "looks for its children in every child table (`message_ids`, keyed by the "
        "Message-ID first, was scanned: 2,439 decisions/s; indexed by conversation, "
        "4,000 against 4,530 at commit); without foreign keys at all and a 0.3 ms "
        "switch interval still no gain (3,673-3,880 either way). (3) The switch "
        "interval alone (1 ms against 5 ms): the hops' wall time and the loop's sleep"
        " unchanged.\n- **PostgreSQL's server per poll of 400** (`pg_stat_statements`,"
        " routed polls with statistics, 15:55 UTC, load ~1): the outbox's COPY 12.6 "
        "ms (~14 µs a row, 2.2 rows an interaction), the SLA timers' 7.5 ms, the "
        "deferred foreign-key checks 4.0 ms (31,188 on conversations over 20 polls), "
        "the conversations' COPY 3.3 ms, the interactions' 3.0 ms, the candidate read"
        " 2.7 ms, the owners' 2.2 ms: ~44 ms of server CPU a poll, on its own core "
        "but waited for at the poll's start (its reads) and at its commit.\n- "
        "**Next**: on the loop, the new conversation's JSON columns (~17 K an "
        "interaction: `customer_flags` 10.2 K, `customer` 7.5 K, "
        "`tags`/`skills`/`references` 3.5 K each, half of `references` `[]`), the "
        "snapshot's Python (~47 K a snapshot less orjson's 12 K), the per-event emit "
        "(~17 K an event), `on_customer_message` (~32 K a new conversation), "
        "`_record` (~41 K), `_candidates` (13 K); on aiosqlite's thread the text "
        "binds (~46 K of its 77 K GIL-held). A routing that overlaps its database "
        "would have to decide the next poll from the state the last one left in "
        "memory (its contacts, conversations and loads), not from reads after its "
        "commit: a different design, not a tuning."
    ),
    "routing event → notice sent": (
        "Met: 5,892 notices/s through the whole path (claim, rate window, rendering, "
        "SMTP, batched records), 23.4 % of the notifier's SMTP pool alone (25,231 "
        "mails/s; 14.3 % in stop 31's slow run). This stop the notifier decodes a "
        "routing event in 125.6 K instructions instead of 135.8 K "
        "(`bench.decode_parts_callgrind`: UTC timestamps read by "
        "`datetime.fromisoformat` for our producers' own text, the CloudEvent filled "
        "without its frozen slot setters) and builds its outcomes' CloudEvents the "
        "same way: `bench.notify_instructions --mix pipeline` ~10 K fewer a notice of "
        "~845 K. The largest piece left is still the routing events' decode (~11 % of "
        "`handle_batch`); a narrower projection of the snapshot is the next candidate."
    ),
    "webhook → agent mail": (
        "Met: p99 185 ms at 500/s for 60 s, p50 109 ms; 30,000 / 30,000 POSTs "
        "acknowledged and their mails delivered (stop 31's run 492 / 210 ms on a VM "
        "~1.9x slower). The machine spent 1.98 CPU-s per 1,000 POSTs, 49 % busy: "
        "router 0.79, notifier 0.48, chat_ingest 0.38, broker 0.18, the pacer 0.10, "
        "SMTP sink 0.05. Hops at 500/s (`bench/pipeline_hops.py`, p50 / p99): ingest 2 "
        "/ 6 ms, route 47 / 94 ms, notify 58 / 120 ms; the slowest 1 % spent 80 ms in "
        "route and 113 ms in notify. The route hop at 500/s now fetches at 32 KiB "
        "(about 26 interactions) instead of waiting up to 100 ms for 64 KiB, and the "
        "relay sends from its own turn of the loop."
    ),
    "backlog recovery": (
        "Met in this run: 55.8 s for 100,000 interactions (all routed after 55.8 s, "
        "1,794 decisions/s, 13.4 % of the SQLite store's 13,357; router 0.45, "
        "notifier 0.36 CPU-s per 1,000). Stop 41's run took 48.0 s (13.7 % of its "
        "15,252; router 0.39, notifier 0.31): the notifier, unchanged in this stop, "
        "spent 16 % more CPU per 1,000 in this run as the router did, so the margin's"
        " loss is the VM's (the fixed workload 63.5 against 61.6 CPU-ms, and slower "
        "phases within the run), not the router's (its own backlog bench: 0.238 → "
        "0.215 CPU-s per 1,000). The router is the bottleneck (one thread near a "
        "core): a run on a slow VM can miss it. Its cost is the router's CPU per "
        "decision (interactions → decisions)."
    ),
    "memory": (
        "Met for every service: router 127 MB in the pipeline and 144 MB in the "
        "100,000 backlog, notifier 104 / 114 MB, chat_ingest 80 MB, phone_log 65 MB, "
        "email_ingest 61 MB. The router's backlog peak is the closest to the 150 MB "
        "target (`ROUTER_CONSUMER_MAX_BATCH` = 400 keeps its poll's working set below"
        " it); the memory upkeep between polls, skipped while idle since stop 31, "
        "runs as before when busy."
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
        "(the faster counts) — for the router and the backlog recovery; and for the "
        "router's latency the store's own commit at that rate: transactions of a 1,000/s "
        "poll's rows (27 interactions) every 27 ms, each timed to its COMMIT (on SQLite "
        "with its fsync, `synchronous=FULL` as the router; the benches' PostgreSQL runs "
        "with fsync off), p99;",
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
        "(250, 500 and 1,000/s, 3 s each), each rate started once the routing topic is "
        "quiet (the relay has published what the previous phase left). Since stop 35 the "
        "stream runs on at its rate for 0.5 s after each measured window, uncounted: a "
        "stream that stops makes its last fetch wait the router's fetch max wait (100 ms) "
        "for bytes that never come, which at 1,000/s was most of the slowest 1 %; the "
        "run-on's own p99 is in the table's note. The backlog is published "
        "before the router starts: 20,000 interactions, of which two thirds are customers' "
        "first contacts (13,333 customers, a new conversation each) and the rest "
        "follow-ups in their threads; two thirds e-mail, one third WhatsApp; its "
        "throughput runs from the first `InteractionRouted` read to the last (~5 s; until "
        "stop 34 a 3,000 backlog: a window under a second, 3,303-4,279/s in three idle "
        "runs of the same code on SQLite).",
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
