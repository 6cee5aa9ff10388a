"""Issue #9: faults under steady load; nothing lost, nothing twice, time to recover.

Each test runs the steady load through all five services, injects one fault,
heals it, waits until the pipeline drained (polling the real topics and the
SMTP server), then checks the invariants of :mod:`tests.faults.invariants` and
writes a row to ``bench/results/faults.json`` (rendered into
``docs/reliability.md`` by ``python -m tests.faults.report``). Recovery times
are reported, never asserted.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.faults.harness import Fault, Outcome, Rig
from tests.faults.infra import psql_value, start_postgres, stop_postgres
from tests.faults.invariants import bare_id, check
from tests.faults.poison import poison_problems, send_poison

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

#: How long the SMTP server stays down (the issue asks for a minute).
SMTP_DOWN_S = 60.0
CHAT = frozenset({"telegram", "whatsapp"})


def assert_nothing_lost_or_twice(outcome: Outcome) -> None:
    verdict = outcome.verdict
    assert verdict.accepted > 0, f"no input was accepted: {verdict.summary()}"
    assert verdict.lost == 0, verdict.summary()
    assert verdict.duplicated == 0, verdict.summary()
    assert not outcome.violations, outcome.violations


async def test_baseline_without_a_fault(rig: Rig):
    outcome = await rig.run(Fault("none (baseline)", "steady load only", inject=_noop))
    assert_nothing_lost_or_twice(outcome)


KILLED = {
    "chat_ingest": ("intake", CHAT),
    "phone_log": ("intake", frozenset({"phone"})),
    "email_ingest": ("intake", frozenset({"email"})),
    "router": ("intake", None),
    "notifier": ("notify", None),
}


NOTIFIER_FINDING = (
    "notifier: killed between the SMTP server's 250 and the sent-log's 'sent' record, the "
    "mail is sent again (same Message-ID) once the claim's lease runs out: the SMTP server "
    "receives it twice. Timing-dependent (seen in 1 of 4 full runs), hence not strict"
)


@pytest.mark.parametrize(
    "service",
    [
        *(s for s in KILLED if s != "notifier"),
        pytest.param("notifier", marks=pytest.mark.xfail(strict=False, reason=NOTIFIER_FINDING)),
    ],
)
async def test_kill_9_and_restart(rig: Rig, service: str):
    async def kill() -> None:
        await rig.in_thread(rig.system.kill, service)

    async def restart() -> None:
        await rig.in_thread(rig.system.start, service, timeout=90)

    path, kinds = KILLED[service]
    known = NOTIFIER_FINDING if service == "notifier" else ""
    fault = Fault(
        f"kill -9 {service}",
        f"SIGKILL {service} under load, then start it again",
        kill,
        restart,
        path=path,
        kinds=kinds,
        expected_failure=known,
    )
    assert_nothing_lost_or_twice(await rig.run(fault))


async def test_kafka_broker_stop_and_restart(rig: Rig, servers):
    kafka = servers[0].kafka
    fault = Fault(
        "Kafka broker stop/start",
        "stop the (dedicated) broker, 5 s down, start it again",
        inject=lambda: rig.in_thread(kafka.stop),
        heal=lambda: rig.in_thread(kafka.start, timeout=120),
        hold_s=5,
    )
    assert_nothing_lost_or_twice(await rig.run(fault))


async def test_imap_connections_dropped(rig: Rig, servers):
    dovecot = servers[0].dovecot
    kicked: list[bool] = []

    async def kick_three_times() -> None:
        for _ in range(3):
            kicked.append(await rig.in_thread(dovecot.kick, "support"))
            await asyncio.sleep(2)

    fault = Fault(
        "IMAP connection drop",
        "doveadm kick of the support mailbox's sessions, 3 times 2 s apart",
        inject=kick_three_times,
        kinds=frozenset({"email"}),
    )
    outcome = await rig.run(fault)
    assert any(kicked), "no IMAP session was connected to drop"
    assert_nothing_lost_or_twice(outcome)


async def test_poison_messages(rig: Rig):
    reports = []

    async def poison() -> None:
        reports.append(await send_poison(rig.endpoints, rig.system.kafka))

    async def where_did_it_go(inputs) -> list[str]:
        deadline = time.monotonic() + 30
        while True:
            problems = poison_problems(reports[0], rig.tail, [*rig.all_inputs, *inputs])
            if not problems or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        statuses = ", ".join(f"{k}: {v}" for k, v in reports[0].webhook_statuses.items())
        fault.notes.append(f"webhook answers: {statuses}")
        return problems

    fault = Fault(
        "poison messages",
        "4 malformed signed webhooks, 2 garbage records on the interactions topic, "
        "1 mail without a sender",
        inject=poison,
        verify=where_did_it_go,
    )
    assert_nothing_lost_or_twice(await rig.run(fault))


SMTP_FIXED = (
    "earlier runs lost 23-28 mails per run: after its retry budget the notifier recorded each "
    "mail 'failed' and dead-lettered its routing event. Fixed: an unreachable relay is now an "
    "outage (RelayUnavailable) that the consumer waits out, sending when the relay is back"
)


async def test_smtp_server_down_for_a_minute(rig: Rig, servers):
    smtp = servers[0].smtp
    fault = Fault(
        "SMTP server down",
        f"stop the SMTP server for {SMTP_DOWN_S:.0f} s, start it again",
        inject=lambda: rig.in_thread(smtp.stop),
        heal=lambda: rig.in_thread(smtp.start),
        hold_s=SMTP_DOWN_S,
        path="notify",
        drain_timeout_s=60,  # the backlog drains once the relay is back
    )
    assert_nothing_lost_or_twice(await rig.run(fault))


async def _noop() -> None:
    return None


PG_FIXED = (
    "earlier runs lost 30-34 interactions per run: the router's consumer retried each record "
    "3 times and then dead-lettered it while PostgreSQL was down. Fixed: database connection "
    "errors are an outage (services.router.consumer.database_unavailable) that the consumer "
    "waits out without using up attempts or dead-lettering"
)


PG_CRASH_FIXED = (
    "1 run in about 4 to 10 left one interaction unrouted, not dead-lettered: the suite's "
    "PostgreSQL ran with synchronous_commit=off, so its crash stop took back routing it had "
    "acknowledged, after the router had committed the record's Kafka offset (in 10 runs: "
    "1 unrouted, 1 more routed but missing from the router's database). The suite's "
    "server now keeps acknowledged commits (tests/faults/test_postgres_crash.py; 12 runs "
    "since: none lost), and the router warns at start when its database has "
    "synchronous_commit=off"
)


async def test_postgres_stop_and_restart(rig: Rig, servers):
    """Last: when it fails, the router it leaves behind is of no use to a later scenario."""
    postgres = servers[0].postgres

    async def diagnose(inputs) -> list[str]:
        fault.notes.extend(await rig.in_thread(_router_state, rig, postgres))
        unrouted = check(inputs, rig.tail.seen).unrouted
        fault.notes.extend(await rig.in_thread(_where_unrouted_went, rig, postgres, unrouted))
        routed, forgotten = await rig.in_thread(_routed_but_forgotten, rig, postgres, inputs)
        fault.notes.append(
            f"routed interactions of this scenario: {routed}, missing from the router's "
            f"database: {forgotten}"
        )
        if forgotten:  # the database took back routing it acknowledged (offsets committed)
            return [f"{forgotten} routed interaction(s) missing from the router's database"]
        return []

    fault = Fault(
        "PostgreSQL stop/start",
        "immediate-mode stop of the router's PostgreSQL, 8 s down, start it again",
        inject=lambda: rig.in_thread(stop_postgres, postgres),
        heal=lambda: rig.in_thread(start_postgres, postgres),
        hold_s=8,
        verify=diagnose,
        drain_timeout_s=30,
    )
    assert_nothing_lost_or_twice(await rig.run(fault))


def _router_state(rig: Rig, postgres) -> list[str]:
    ready = httpx.get(f"{rig.system.url('router')}/readyz", timeout=5)
    dead = [d for d in rig.tail.deadletters if "router" in d.headers.get("dlq_stage", "")]
    stored = psql_value(postgres, "router_faults", "select count(*) from interactions")
    unsent = psql_value(postgres, "router_faults", "select count(*) from outbox_pending")
    return [
        f"after the drain: router /readyz {ready.status_code}",
        f"interactions stored by the router: {stored}",
        f"outbox rows not yet published: {unsent}",
        f"dead letters from the router so far: {len(dead)}",
    ]


def _where_unrouted_went(rig: Rig, postgres, unrouted: list[str]) -> list[str]:
    """For each unrouted interaction: when it was on the topic, and whether the router's
    database has it (lost before the commit, or committed and never published)."""
    on_topic = {e.ce_id: e.at for e in rig.tail.seen.interactions}
    notes = []
    for interaction_id in unrouted[:5]:
        quoted = str(uuid.UUID(interaction_id))  # only a UUID goes into the SQL below
        stored = psql_value(
            postgres,
            "router_faults",
            f"select count(*) from interactions where event_id = '{quoted}'",  # noqa: S608
        )
        state = "case when p.id is null then 'sent' else 'unsent' end"
        rows = f"string_agg(o.id || ':' || ({state}), ',')"
        outbox = psql_value(
            postgres,
            "router_faults",
            f"select coalesce({rows}, 'none') from outbox o left join outbox_pending p"  # noqa: S608
            f" on p.id = o.id where o.payload like '%{quoted}%'",
        )
        at = on_topic.get(interaction_id)
        when = (
            time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}"
            if at
            else "?"
        )
        notes.append(
            f"unrouted {interaction_id}: on the topic at {when} UTC, "
            f"rows in interactions: {stored}, outbox rows: {outbox}"
        )
    return notes


def _routed_but_forgotten(rig: Rig, postgres, inputs) -> tuple[int, int]:
    """(routed, forgotten): interactions of this scenario whose InteractionRouted is on the
    topic, and how many of them the router's database does not have (commits it
    acknowledged before the crash and lost; their offsets were committed, so nothing
    redoes them, and the routing event points at a conversation the router forgot)."""
    keys = {(item.provider, item.provider_id) for item in inputs if item.accepted}
    ours = {
        e.ce_id for e in rig.tail.seen.interactions if (e.provider, bare_id(e.provider_id)) in keys
    }
    routed = sorted(ours & {r.interaction_id for r in rig.tail.seen.routed})
    if not routed:
        return 0, 0
    listed = ",".join(f"'{uuid.UUID(i)}'" for i in routed)  # only UUIDs go into the SQL
    stored = psql_value(
        postgres,
        "router_faults",
        f"select count(*) from interactions where event_id in ({listed})",  # noqa: S608
    )
    return len(routed), len(routed) - int(stored)
