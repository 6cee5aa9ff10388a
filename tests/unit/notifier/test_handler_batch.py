"""A whole poll at once (``handle_batch``): same effects as event by event, fewer round trips."""

from __future__ import annotations

import asyncio
import logging

import pytest

from libs.common.cloudevents import CloudEvent
from libs.common.events import (
    Flags,
    NotificationChannel,
    NotificationOutcome,
    NotificationStatus,
)
from libs.common.kafka.consumer import Delivery, PermanentError
from services.notifier.errors import RelayUnavailable
from services.notifier.handler import PollSettled, PollSummary, Recorder
from services.notifier.sentlog import Finish, SendInfo, SendKey, Status
from services.notifier.smtp import PermanentSmtpError, SmtpRelayDown, TransientSmtpError

from .fakes import T0, InFlight, MemorySentLog
from .test_handler import ASSIGNED, AUDIT, World, opened


def delivery(event_id: str, event) -> Delivery:  # type: ignore[no-untyped-def]
    cloud = CloudEvent(id=event_id, source="test", type=event.ce_type, data=event)
    return Delivery(record=None, event=cloud)  # type: ignore[arg-type]


def poll(n: int, *, start: int = 0) -> list[Delivery]:
    return [delivery(f"ev-{i}", ASSIGNED) for i in range(start, start + n)]


async def test_a_poll_is_claimed_and_recorded_in_one_statement_each():
    world = World()
    await world.handler.handle_batch(poll(20))
    assert len(world.smtp.sent) == 20
    # claims, records, suppressions: three batch calls for the whole poll
    assert world.sentlog.batches == 3
    assert {o.status for o in world.outcomes.published} == {NotificationStatus.SENT}
    assert len(world.outcomes.published) == 20
    assert all(r.status.value == "sent" for r in world.sentlog.rows.values())


async def test_a_redelivered_poll_sends_nothing_twice():
    world = World()
    await world.handler.handle_batch(poll(10))
    first = list(world.outcomes.published)
    await world.handler.handle_batch(poll(12))  # the same ten again, and two new
    assert len(world.smtp.sent) == 12
    again = world.outcomes.published[len(first) :]
    assert again[:10] == first  # the recorded outcomes, identical (same ce_id)


async def test_an_event_repeated_within_a_poll_is_sent_once_and_its_outcome_repeated():
    world = World()
    await world.handler.handle_batch([*poll(1), *poll(1)])
    assert len(world.smtp.sent) == 1
    first, again = world.outcomes.published  # as a redelivery in its own poll would
    assert first == again


async def test_record_matches_the_event_by_event_path_including_retries():
    world = World(attempts=3)
    world.smtp.failures = [TransientSmtpError("421 busy")]
    await world.handler.handle_batch(poll(1))
    [outcome] = world.outcomes.published
    assert (outcome.status, outcome.attempts) == (NotificationStatus.SENT, 2)
    [row] = world.sentlog.rows.values()
    assert (row.status.value, row.message_id) == ("sent", world.smtp.sent[0].message_id)


async def test_one_acknowledgement_per_sender_per_window_within_a_poll():
    world = World(window=60)
    await world.handler.handle_batch(
        [delivery("ev-a", opened("lee@example.kr")), delivery("ev-b", opened("LEE@example.kr"))]
    )
    assert len(world.smtp.sent) == 1
    statuses = sorted(o.status.value for o in world.outcomes.published)
    assert statuses == ["sent", "suppressed"]


async def test_flagged_senders_are_recorded_suppressed_in_the_poll():
    world = World()
    await world.handler.handle_batch([delivery("ev-1", opened(flags=Flags(auto_reply=True)))])
    [outcome] = world.outcomes.published
    assert outcome.status is NotificationStatus.SUPPRESSED
    assert world.smtp.sent == []


async def test_a_permanent_failure_settles_the_poll_and_only_its_event_is_dead_lettered():
    world = World(targets=[AUDIT])
    world.smtp.failures = [PermanentSmtpError("SMTP 550: no such user", code=550)]
    deliveries = poll(3)
    with pytest.raises(PollSettled, match="1 of 3"):
        await world.handler.handle_batch(deliveries)
    sent_before = len(world.smtp.sent)
    assert sent_before == 2 and len(world.webhooks.posted) == 3
    # The runner then goes record by record: nothing is sent again.
    verdicts = []
    for d in deliveries:
        try:
            await world.handler(d)
            verdicts.append("done")
        except PermanentError as exc:
            verdicts.append(str(exc))
    assert verdicts.count("done") == 2
    assert any("550" in v for v in verdicts)
    assert len(world.smtp.sent) == sent_before and world.smtp.attempts == 3
    assert len(world.webhooks.posted) == 3


async def test_relay_outage_records_what_went_out_and_releases_the_rest():
    world = World(attempts=1)
    relay = world.smtp
    sends = relay.send

    async def third_finds_the_relay_gone(mail):  # type: ignore[no-untyped-def]
        if relay.attempts == 2:
            relay.failures = [SmtpRelayDown("connection refused")]
        await sends(mail)

    relay.send = third_finds_the_relay_gone  # type: ignore[method-assign]
    with pytest.raises(SmtpRelayDown):
        await world.handler.handle_batch(poll(3))
    statuses = sorted(r.status.value for r in world.sentlog.rows.values())
    assert statuses == ["retry", "sent", "sent"]
    # The runner waits the outage out and hands the same poll again.
    await world.handler.handle_batch(poll(3))
    assert len(world.smtp.sent) == 3
    assert sorted(r.status.value for r in world.sentlog.rows.values()) == ["sent"] * 3


async def test_sent_mails_are_recorded_by_group_commit_as_they_complete():
    """While one record statement runs, completions queue up for the next one."""
    statements: list[int] = []

    class SlowStatements(MemorySentLog):
        async def finish_many(self, finishes):  # type: ignore[no-untyped-def]
            statements.append(len(finishes))
            await asyncio.sleep(0.01)
            await super().finish_many(finishes)

    log = SlowStatements()
    recorder = Recorder(log)
    keys = [SendKey(f"ev-{i}", "a@example.kr", "agent_assigned") for i in range(10)]
    for key in keys:
        await log.claim(key, SendInfo("t", "c", "smtp", "ko"), now=T0)
    for key in keys[:3]:
        recorder.add(Finish(key, Status.SENT, T0, "<m>"))
    await asyncio.sleep(0)  # the first statement starts with what is there
    for key in keys[3:]:
        recorder.add(Finish(key, Status.SENT, T0, "<m>"))
    await recorder.close()
    assert statements == [3, 7]
    assert {log.rows[k].status for k in keys} == {Status.SENT}


async def test_a_relay_outage_stops_the_polls_other_mails_from_trying():
    """The first mail to find the relay unreachable retries it; the others give up at
    once instead of queueing connection attempts, and every claim is released."""
    world = World(attempts=3)
    world.smtp.failures = [SmtpRelayDown("connection refused")] * 1000
    with pytest.raises(SmtpRelayDown):
        await world.handler.handle_batch(poll(20))
    assert world.smtp.attempts == 3  # the first mail's budget; the rest never connect
    assert {r.status.value for r in world.sentlog.rows.values()} == {"retry"}


async def test_after_a_relay_blip_the_redelivered_poll_sends_the_rest_once():
    world = World(attempts=3)
    world.smtp.failures = [SmtpRelayDown("connection reset")]  # one refused connection
    with pytest.raises(RelayUnavailable):
        await world.handler.handle_batch(poll(5))  # the consumer waits, then hands it again
    await world.handler.handle_batch(poll(5))
    recipients = [m.message_id for m in world.smtp.sent]
    assert len(recipients) == 5 == len(set(recipients))
    assert {r.status.value for r in world.sentlog.rows.values()} == {"sent"}


async def test_the_rate_window_of_a_poll_is_one_statement_and_its_suppressions_another():
    world = World(window=60)
    customers = [f"c{n % 3}@example.kr" for n in range(9)]
    await world.handler.handle_batch(
        [delivery(f"ev-{n}", opened(email)) for n, email in enumerate(customers)]
    )
    assert sorted(m.recipient for m in world.smtp.sent) == [f"c{n}@example.kr" for n in range(3)]
    # suppressions, claims, rate slots, the rate-held records, the sent records
    assert world.sentlog.batches == 5
    held = [o for o in world.outcomes.published if o.status is NotificationStatus.SUPPRESSED]
    assert len(held) == 6 and {o.reason for o in held} == {
        "rate window: an automatic reply within 60 min"
    }
    assert {world.sentlog.rows[k].status for k in world.sentlog.rows} == {
        Status.SENT,
        Status.SUPPRESSED,
    }
    # A redelivery publishes the same outcomes and sends nothing.
    first = list(world.outcomes.published)
    await world.handler.handle_batch(
        [delivery(f"ev-{n}", opened(email)) for n, email in enumerate(customers)]
    )
    assert len(world.smtp.sent) == 3
    assert sorted(map(str, world.outcomes.published[len(first) :])) == sorted(map(str, first))


async def test_a_polls_mails_are_written_as_a_connection_is_free_not_all_at_once():
    world = World()
    relay = world.smtp.send = InFlight(world.smtp.send)  # type: ignore[method-assign]
    await world.handler.handle_batch(poll(20))
    assert len(world.smtp.sent) == 20
    assert relay.peak == 4  # HandlerConfig.mail_concurrency (the pool's size): a mail is written
    # inside that bound, so a poll never holds more bodies than connections


async def test_a_lingering_record_statement_takes_what_completes_meanwhile_and_close_cuts_it():
    statements: list[int] = []

    class CountedStatements(MemorySentLog):
        async def finish_many(self, finishes):  # type: ignore[no-untyped-def]
            statements.append(len(finishes))
            await super().finish_many(finishes)

    log = CountedStatements()
    recorder = Recorder(log, linger_s=3600.0)
    keys = [SendKey(f"ev-{i}", "a@example.kr", "agent_assigned") for i in range(10)]
    for key in keys:
        await log.claim(key, SendInfo("t", "c", "smtp", "ko"), now=T0)
    for key in keys:
        recorder.add(Finish(key, Status.SENT, T0, "<m>"))
        await asyncio.sleep(0)  # mails complete one by one
    assert statements == []  # still lingering
    await asyncio.wait_for(recorder.close(), 10)  # close() does not wait the linger out
    assert statements == [10]
    assert {log.rows[k].status for k in keys} == {Status.SENT}


async def test_a_poll_logs_its_counts_and_per_notice_lines_only_for_failures(caplog):
    """Sent and suppressed notices are in the sent-log and on the outcome topic: no INFO
    line each (the recipient's address, ~40 CPU-µs of JSON a notice); the first poll's
    counts at once (see PollSummary for the later ones)."""
    world = World()
    world.smtp.failures = [PermanentSmtpError("SMTP 550: no such user", code=550)]
    caplog.set_level(logging.INFO, logger="services.notifier.handler")
    with pytest.raises(PollSettled):
        await world.handler.handle_batch(
            [*poll(3), delivery("ev-a", opened(flags=Flags(auto_reply=True)))]
        )
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    # (a failed notice is published on its own, with its line, not with the poll's)
    assert "4 event(s) in 1 poll(s): 2 sent, 1 suppressed" in lines
    [failed] = [line for line in lines if " failed to " in line]
    assert "550" in failed
    assert not [line for line in lines if " sent to " in line or " suppressed to " in line]


def test_the_poll_summary_logs_at_most_one_line_per_interval_counting_every_poll(caplog):
    caplog.set_level(logging.INFO, logger="services.notifier.handler")
    summary = PollSummary(10.0)
    sent = [_outcome(NotificationStatus.SENT)]
    both = [_outcome(NotificationStatus.SENT), _outcome(NotificationStatus.SUPPRESSED)]
    summary.add(1, sent, now=100.0)  # the first poll: at once
    summary.add(2, both, now=101.0)
    summary.add(1, sent, now=109.9)
    summary.add(3, both, now=110.0)  # 10 s after the last line: the polls since it
    summary.add(1, sent, now=111.0)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == [
        "1 event(s) in 1 poll(s): 1 sent",
        "6 event(s) in 3 poll(s): 3 sent, 2 suppressed",
    ]


def test_the_poll_summary_counts_nothing_when_info_is_off(caplog):
    caplog.set_level(logging.WARNING, logger="services.notifier.handler")
    summary = PollSummary(10.0)
    summary.add(1, [_outcome(NotificationStatus.SENT)], now=100.0)
    caplog.set_level(logging.INFO, logger="services.notifier.handler")
    summary.add(2, [_outcome(NotificationStatus.FAILED)], now=101.0)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == ["2 event(s) in 1 poll(s): 1 failed"]


def _outcome(status: NotificationStatus) -> NotificationOutcome:
    return NotificationOutcome(
        routing_event_id="ev-1",
        routing_event_type="support.conversation.assigned",
        conversation_id="conv-1",
        channel=NotificationChannel.SMTP,
        recipient="a@example.kr",
        template="agent_assigned",
        locale="ko",
        status=status,
        attempts=1,
        occurred_at=T0,
    )
