"""The sent-log on SQLite and PostgreSQL: claims, leases, rate slots, races."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from libs.common.privacy.identifiers import IdentifierHasher
from services.notifier.sentlog import (
    ClaimResult,
    Finish,
    SendInfo,
    SendKey,
    SentLog,
    Status,
    recipient_hash,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
KEY = SendKey("ev-1", "kim@example.kr", "customer_ack")
INFO = SendInfo("support.conversation.opened", "conv-1", "smtp", "ko")


@pytest.fixture
async def sentlog(sentlog_url):
    log = SentLog(sentlog_url, lease_s=60)
    await log.open()
    yield log
    await log.close()


async def test_claim_send_and_redelivery(sentlog):
    first = await sentlog.claim(KEY, INFO, now=T0)
    assert first.result is ClaimResult.CLAIMED and first.record.attempts == 1
    busy = await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=5))
    assert busy.result is ClaimResult.BUSY
    await sentlog.mark_sent(KEY, message_id="<m@x>", now=T0 + timedelta(seconds=1))
    again = await sentlog.claim(KEY, INFO, now=T0 + timedelta(hours=5))
    assert again.result is ClaimResult.DONE
    assert again.record.status is Status.SENT and again.record.message_id == "<m@x>"


async def test_stale_claim_is_taken_over_after_the_lease(sentlog):
    await sentlog.claim(KEY, INFO, now=T0)  # the sender crashed before recording
    assert (await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=59))).result is (
        ClaimResult.BUSY
    )
    taken = await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=61))
    assert taken.result is ClaimResult.CLAIMED and taken.record.attempts == 2


async def test_failed_rows_can_be_retried_by_a_replay_but_suppressed_cannot(sentlog):
    await sentlog.claim(KEY, INFO, now=T0)
    await sentlog.mark_failed(KEY, reason="SMTP 550", now=T0)
    assert (await sentlog.claim(KEY, INFO, now=T0)).result is ClaimResult.CLAIMED
    other = SendKey("ev-2", "bulk@x.example", "customer_ack")
    first = await sentlog.record_suppressed(other, INFO, reason="sender flagged bulk", now=T0)
    again = await sentlog.record_suppressed(other, INFO, reason="different", now=T0)
    assert first.reason == again.reason == "sender flagged bulk"
    assert (await sentlog.claim(other, INFO, now=T0)).result is ClaimResult.DONE


async def test_rate_slot_is_one_per_sender_per_window(sentlog):
    cutoff = T0 - timedelta(minutes=60)
    assert await sentlog.take_rate_slot("Kim@Example.kr", event_id="e1", now=T0, cutoff=cutoff)
    # The same event again (redelivery) keeps its slot; another event does not get it.
    assert await sentlog.take_rate_slot("kim@example.kr", event_id="e1", now=T0, cutoff=cutoff)
    later = T0 + timedelta(minutes=30)
    assert not await sentlog.take_rate_slot(
        "kim@example.kr", event_id="e2", now=later, cutoff=later - timedelta(minutes=60)
    )
    much_later = T0 + timedelta(minutes=61)
    assert await sentlog.take_rate_slot(
        "kim@example.kr", event_id="e3", now=much_later, cutoff=much_later - timedelta(minutes=60)
    )
    assert await sentlog.take_rate_slot("other@example.kr", event_id="e4", now=later, cutoff=None)


async def test_concurrent_claims_of_one_notice_have_one_winner(sentlog):
    results = await asyncio.gather(*(sentlog.claim(KEY, INFO, now=T0) for _ in range(8)))
    winners = [r for r in results if r.result is ClaimResult.CLAIMED]
    assert len(winners) == 1
    assert all(r.result is ClaimResult.BUSY for r in results if r not in winners)


async def test_concurrent_rate_slot_takers_have_one_winner(sentlog):
    cutoff = T0 - timedelta(minutes=60)
    taken = await asyncio.gather(
        *(
            sentlog.take_rate_slot("kim@example.kr", event_id=f"e{n}", now=T0, cutoff=cutoff)
            for n in range(8)
        )
    )
    assert taken.count(True) == 1


def keys(n: int, prefix: str = "ev") -> list[tuple[SendKey, SendInfo]]:
    return [(SendKey(f"{prefix}-{i}", "kim@example.kr", "customer_ack"), INFO) for i in range(n)]


async def test_a_poll_is_claimed_at_once_and_a_redelivery_finds_what_was_recorded(sentlog):
    jobs = keys(50)
    claims = await sentlog.claim_many(jobs, now=T0)
    assert {c.result for c in claims.values()} == {ClaimResult.CLAIMED}
    at = T0 + timedelta(seconds=1)
    sent = [Finish(key, Status.SENT, at, f"<{key.event_id}@x>") for key, _ in jobs[:40]]
    await sentlog.finish_many(sent)
    again = await sentlog.claim_many([*jobs, *keys(5, "new")], now=T0 + timedelta(seconds=2))
    results = [again[key].result for key, _ in jobs]
    assert results == [ClaimResult.DONE] * 40 + [ClaimResult.BUSY] * 10  # fresh claims held
    assert again[jobs[0][0]].record.message_id == "<ev-0@x>"
    assert again[jobs[0][0]].record.updated_at == at
    assert {again[k].result for k, _ in keys(5, "new")} == {ClaimResult.CLAIMED}
    # After the lease, the unrecorded ten are taken over (attempt 2), nothing else.
    later = await sentlog.claim_many(jobs, now=T0 + timedelta(seconds=120))
    taken = [key for key, c in later.items() if c.result is ClaimResult.CLAIMED]
    assert len(taken) == 10 and all(later[k].record.attempts == 2 for k in taken)


async def test_a_polls_claims_released_at_once_are_stored_as_mark_retry_stores_them(sentlog):
    """The handler gives up a stopped poll's chat claims with one ``finish_many`` of
    ``retry`` rows: each row as ``mark_retry`` leaves it, and claimed again at once."""
    jobs = keys(3)
    await sentlog.claim_many(jobs, now=T0)
    single = SendKey("single", "kim@example.kr", "customer_ack")
    await sentlog.claim(single, INFO, now=T0)
    at = T0 + timedelta(seconds=1)
    await sentlog.mark_retry(single, reason="not sent: relay down", now=at)
    released = [Finish(key, Status.RETRY, at, None, "not sent: relay down") for key, _ in jobs]
    await sentlog.finish_many(released)
    expected = await sentlog.get(single)
    assert [await sentlog.get(key) for key, _ in jobs] == [expected] * 3
    again = await sentlog.claim_many(jobs, now=T0 + timedelta(seconds=2))
    assert {c.result for c in again.values()} == {ClaimResult.CLAIMED}


async def test_concurrent_poll_claims_have_one_winner_per_notice(sentlog):
    jobs = keys(30)
    first, second = await asyncio.gather(
        sentlog.claim_many(jobs, now=T0), sentlog.claim_many(list(reversed(jobs)), now=T0)
    )
    for key, _ in jobs:
        won = [c.result for c in (first[key], second[key])].count(ClaimResult.CLAIMED)
        assert won == 1


async def test_suppressions_of_a_poll_are_recorded_once(sentlog):
    jobs = [(key, info, "sender flagged auto_reply") for key, info in keys(5)]
    records = await sentlog.claim_many([], now=T0)
    assert records == {}
    first = await sentlog.record_suppressed_many(jobs, now=T0)
    later = [(key, info, "another reason") for key, info, _ in jobs]
    second = await sentlog.record_suppressed_many(later, now=T0 + timedelta(hours=1))
    assert first == second
    assert {r.reason for r in second.values()} == {"sender flagged auto_reply"}
    assert await sentlog.count(Status.SUPPRESSED) == 5


async def test_a_polls_suppressions_return_each_row_as_stored_new_or_not(sentlog):
    """New rows are not read back on SQLite: what is returned must be what is stored,
    for a poll that mixes new keys with keys recorded before (a redelivery)."""
    jobs = [(key, info, f"reason {n}") for n, (key, info) in enumerate(keys(6))]
    await sentlog.record_suppressed_many(jobs[:2], now=T0)
    claimed, _ = jobs[2][:2]
    await sentlog.claim(claimed, INFO, now=T0)
    records = await sentlog.record_suppressed_many(jobs, now=T0 + timedelta(minutes=5))
    assert set(records) == {key for key, _, _ in jobs}
    for key, _, _ in jobs:
        assert records[key] == await sentlog.get(key)
    assert records[jobs[3][0]].updated_at == T0 + timedelta(minutes=5)
    assert records[claimed].status is Status.SENDING


async def test_a_polls_rate_slots_are_taken_at_once_with_the_per_notice_rule(sentlog):
    cutoff = T0 - timedelta(minutes=60)
    await sentlog.take_rate_slot("held@example.kr", event_id="old", now=T0, cutoff=cutoff)
    await sentlog.take_rate_slot("stale@example.kr", event_id="old", now=T0, cutoff=cutoff)
    later = T0 + timedelta(minutes=61)
    allowed = await sentlog.take_rate_slots(
        [
            ("New@Example.kr", "e1"),
            ("new@example.kr", "e2"),  # the same sender later in the poll: the first has it
            ("stale@example.kr", "e3"),  # its holder is older than the window: taken
            ("fresh@example.kr", "e4"),
        ],
        now=later,
        cutoff=T0 + timedelta(minutes=1),  # held@'s slot (T0) is stale too, but not asked for
    )
    assert allowed == {
        ("new@example.kr", "e1"),
        ("stale@example.kr", "e3"),
        ("fresh@example.kr", "e4"),
    }
    # A redelivered poll: the holders keep their slots, nobody else gets one.
    window = later - timedelta(minutes=60)
    again = await sentlog.take_rate_slots(
        [("new@example.kr", "e1"), ("new@example.kr", "e2"), ("fresh@example.kr", "e5")],
        now=later + timedelta(seconds=1),
        cutoff=window,
    )
    assert again == {("new@example.kr", "e1")}
    # The per-notice path agrees with what the poll recorded.
    assert await sentlog.take_rate_slot("stale@example.kr", event_id="e3", now=later, cutoff=window)
    assert not await sentlog.take_rate_slot(
        "fresh@example.kr", event_id="x", now=later, cutoff=window
    )
    assert await sentlog.take_rate_slots([], now=later, cutoff=window) == set()


async def test_concurrent_polls_taking_one_senders_slot_have_one_winner(sentlog):
    cutoff = T0 - timedelta(minutes=60)
    senders = [f"c{n}@example.kr" for n in range(20)]
    first, second = await asyncio.gather(
        sentlog.take_rate_slots([(s, "poll-1") for s in senders], now=T0, cutoff=cutoff),
        sentlog.take_rate_slots([(s, "poll-2") for s in reversed(senders)], now=T0, cutoff=cutoff),
    )
    for sender in senders:
        assert ((sender, "poll-1") in first) != ((sender, "poll-2") in second)


async def test_a_claim_is_renewed_only_while_it_is_still_ours(sentlog):
    """A poll's chat message renews its claim before its turn; a claim whose lease ran
    out and was taken over (or that was recorded meanwhile) is not renewed."""
    claimed = (await sentlog.claim_many([(KEY, INFO)], now=T0))[KEY].record
    renewed = await sentlog.renew_claim(KEY, claimed_at=T0, now=T0 + timedelta(seconds=40))
    assert renewed is not None and renewed.claimed_at == T0 + timedelta(seconds=40)
    assert renewed.status is Status.SENDING and renewed.attempts == claimed.attempts
    # Renewed: still held at T0 + 61 s, where the first claim would have run out.
    busy = await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=61))
    assert busy.result is ClaimResult.BUSY
    # Ran out, taken over by another sender: the old claim time no longer matches.
    taken = await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=101))
    assert taken.result is ClaimResult.CLAIMED
    stale = T0 + timedelta(seconds=40)
    assert await sentlog.renew_claim(KEY, claimed_at=stale, now=T0 + timedelta(seconds=102)) is None
    await sentlog.mark_sent(KEY, message_id="m-1", now=T0 + timedelta(seconds=103))
    mine = T0 + timedelta(seconds=101)
    assert await sentlog.renew_claim(KEY, claimed_at=mine, now=T0 + timedelta(seconds=104)) is None
    assert (await sentlog.get(KEY)).status is Status.SENT


async def test_prepared_poll_statements_store_what_sqlalchemy_stores(sentlog):
    """A poll's statements go to the driver as tuples (services.notifier.prepared): the
    rows they leave are the rows the per-notice Core statements leave, as stored."""
    now = T0 + timedelta(microseconds=123456)
    polled, single = SendKey("ev-p", "kim@example.kr", "t"), SendKey("ev-q", "kim@example.kr", "t")
    await sentlog.claim_many([(polled, INFO)], now=now)
    await sentlog.finish_many([Finish(polled, Status.SENT, now, "<m@desk.example>")])
    assert (await sentlog.claim(single, INFO, now=now)).result is ClaimResult.CLAIMED
    await sentlog.mark_sent(single, message_id="<m@desk.example>", now=now)
    assert await sentlog.take_rate_slots([("poll@example.kr", "ev-p")], now=now, cutoff=None)
    assert await sentlog.take_rate_slot("one@example.kr", event_id="ev-p", now=now, cutoff=None)
    async with sentlog.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT status, attempts, message_id, reason, claimed_at, created_at, updated_at,"
            " locale FROM notifier_sent_log WHERE event_id IN ('ev-p', 'ev-q') ORDER BY event_id"
        )
        stored = [tuple(row) for row in rows.all()]
        slots = await conn.exec_driver_sql(
            "SELECT event_id, claimed_at FROM notifier_rate_slot ORDER BY sender"
        )
        stored_slots = [tuple(row) for row in slots.all()]
    assert len(stored) == 2 and stored[0] == stored[1]
    assert len(stored_slots) == 2 and stored_slots[0] == stored_slots[1]


async def test_a_finish_that_fails_midway_leaves_every_row_as_it_was(sentlog):
    """A poll's finish is one transaction on both databases (on SQLite it runs in
    aiosqlite's thread and commits there): a failing row rolls back the rows before it."""
    now = datetime.now(UTC)
    info = SendInfo("support.conversation.assigned", "C-1", "email", "ko")
    keys = [SendKey(f"ev-{n}", "agent@desk.example", "agent_assigned") for n in range(3)]
    await sentlog.claim_many([(key, info) for key in keys], now=now)
    finishes = [Finish(key, Status.SENT, now, f"<m{n}@x>") for n, key in enumerate(keys)]
    broken = Finish(keys[2], Status.SENT, now, object())  # type: ignore[arg-type]  # no driver binds it
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
        await sentlog.finish_many([*finishes[:2], broken])
    for key in keys:
        assert (await sentlog.get(key)).status is Status.SENDING
    await sentlog.finish_many(finishes)  # the connection is usable and clean afterwards
    assert [(await sentlog.get(key)).status for key in keys] == [Status.SENT] * 3


async def test_a_poll_whose_rows_were_renumbered_is_finished_by_key(sentlog):
    """SQLite: claim_many's rows are finished by the rowid their insert returned, the
    key checked on the row; a row renumbered meanwhile (a VACUUM may) is finished by
    its key, and a row that is gone is still an error (the others recorded)."""
    if sentlog.engine.dialect.name != "sqlite":
        pytest.skip("rowids are SQLite's")
    jobs = keys(4)
    await sentlog.claim_many(jobs, now=T0)
    async with sentlog.engine.begin() as conn:
        old = "SELECT rowid FROM notifier_sent_log WHERE event_id = 'ev-1'"
        [(rowid,)] = (await conn.exec_driver_sql(old)).all()
        await conn.exec_driver_sql(
            "UPDATE notifier_sent_log SET rowid = rowid + 1000 WHERE event_id = 'ev-1'"
        )
        await conn.exec_driver_sql("DELETE FROM notifier_sent_log WHERE event_id = 'ev-2'")
    await sentlog.claim_many([(SendKey("ev-x", "x@example.kr", "t"), INFO)], now=T0)
    async with sentlog.engine.begin() as conn:
        # Another row now holds ev-1's old rowid: its key differs, so it is not touched.
        await conn.exec_driver_sql(
            "UPDATE notifier_sent_log SET rowid = ? WHERE event_id = 'ev-x'", (rowid,)
        )
    at = T0 + timedelta(seconds=1)
    finishes = [Finish(key, Status.SENT, at, f"<{key.event_id}@x>") for key, _ in jobs]
    with pytest.raises(RuntimeError, match="1 of 4 rows vanished"):
        await sentlog.finish_many(finishes)
    for key, _ in jobs:
        record = await sentlog.get(key)
        if key.event_id == "ev-2":
            assert record is None
        else:
            assert record.status is Status.SENT and record.message_id == f"<{key.event_id}@x>"
    other = await sentlog.get(SendKey("ev-x", "x@example.kr", "t"))
    assert other.status is Status.SENDING and other.message_id is None


async def test_a_polls_claims_store_the_recipients_keyed_hash_as_a_single_claim(sentlog_url):
    hasher = IdentifierHasher(b"k" * 32)
    log = SentLog(sentlog_url, lease_s=60, hasher=hasher)
    await log.open()
    try:
        polled = SendKey("ev-p", "Kim@Example.kr", "t")
        single = SendKey("ev-q", "Kim@Example.kr", "t")
        agent = SendKey("ev-p", "https://hooks.example/agent", "t")
        await log.claim_many([(polled, INFO), (agent, INFO)], now=T0)
        await log.claim(single, INFO, now=T0)
        async with log.engine.connect() as conn:
            rows = await conn.exec_driver_sql(
                "SELECT event_id, recipient, recipient_hash FROM notifier_sent_log"
                " ORDER BY event_id, recipient"
            )
            stored = {(r[0], r[1]): r[2] for r in rows.all()}
    finally:
        await log.close()
    digest = recipient_hash(hasher, "Kim@Example.kr")
    assert digest is not None
    assert stored == {
        ("ev-p", "Kim@Example.kr"): digest,
        ("ev-p", "https://hooks.example/agent"): None,
        ("ev-q", "Kim@Example.kr"): digest,
    }


async def test_a_polls_suppressions_store_what_a_single_suppression_stores(sentlog):
    now = T0 + timedelta(microseconds=654321)
    polled, single = SendKey("ev-p", "kim@example.kr", "t"), SendKey("ev-q", "kim@example.kr", "t")
    await sentlog.record_suppressed_many([(polled, INFO, "sender flagged bulk")], now=now)
    await sentlog.record_suppressed(single, INFO, reason="sender flagged bulk", now=now)
    async with sentlog.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT event_type, conversation_id, channel, locale, status, attempts, message_id,"
            " reason, claimed_at, created_at, updated_at, recipient_hash FROM notifier_sent_log"
            " ORDER BY event_id"
        )
        stored = [tuple(row) for row in rows.all()]
    assert len(stored) == 2 and stored[0] == stored[1]
    assert stored[0][4:6] == ("suppressed", 0)


async def test_a_small_polls_transactions_run_inline_and_a_busy_database_takes_the_trip(
    sentlog, monkeypatch
):
    """SQLite: a small poll's transactions commit on the event loop's thread; while another
    connection writes, they wait for it in aiosqlite's thread instead (never on the loop),
    and every few commits a checkpoint takes the trip (the inline connection makes none)."""
    if sentlog.engine.dialect.name != "sqlite":
        pytest.skip("the inline connection is SQLite's")
    from services.notifier import sentlog as sentlog_module

    monkeypatch.setattr(sentlog_module, "_INLINE_CHECKPOINT_EVERY", 2)
    inline_done: list[bool] = []
    inline = sentlog._inline_transaction

    def spied(*args):
        done, result = inline(*args)
        inline_done.append(done)
        return done, result

    monkeypatch.setattr(sentlog, "_inline_transaction", spied)
    first = await sentlog.claim_many(keys(3, "inline"), now=T0)
    assert {c.result for c in first.values()} == {ClaimResult.CLAIMED}
    assert sentlog._inline_commits == 1
    await sentlog.finish_many([Finish(key, Status.SENT, T0, "<m@x>") for key in first])
    assert sentlog._inline_commits == 0  # the second commit: checkpointed, counted anew

    blocker = sqlite3.connect(sentlog.engine.url.database, timeout=0)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
        claiming = asyncio.create_task(sentlog.claim_many(keys(2, "busy"), now=T0))
        # the claim's first step runs first (FIFO): inline it finds the database busy
        # and goes to the trip, whose connection waits in its thread until this ends
        asyncio.get_running_loop().call_soon(blocker.rollback)
        claims = await claiming
    finally:
        blocker.close()
    assert {c.result for c in claims.values()} == {ClaimResult.CLAIMED}
    assert inline_done == [True, True, False]  # the busy claim committed by the trip
    for key, _ in keys(2, "busy"):
        assert (await sentlog.get(key)).status is Status.SENDING
    for key in first:
        assert (await sentlog.get(key)).status is Status.SENT


@pytest.mark.parametrize("size", [1, 17, 190, 600])
async def test_a_poll_of_any_size_stores_each_row_as_a_single_claim_stores_it(sentlog, size):
    """SQLite writes a poll's claims in chunks of recurring sizes (statement_shapes), the
    first row's marks numbered, the rest plain: each row holds its own values, as a
    single claim stores them."""
    now = T0 + timedelta(microseconds=4321)
    jobs = [
        (
            SendKey(f"ev-{n}", f"r{n}@example.kr", f"t{n % 3}"),
            SendInfo(f"type-{n}", f"conv-{n}", "smtp" if n % 2 else "chat", f"l{n % 5}"),
        )
        for n in range(size)
    ]
    claims = await sentlog.claim_many(jobs, now=now)
    assert len(claims) == size and {c.result for c in claims.values()} == {ClaimResult.CLAIMED}
    twin_key = SendKey("twin", "r0@example.kr", "t0")
    await sentlog.claim(twin_key, jobs[0][1], now=now)
    suppressed = [
        (SendKey(f"s-{n}", f"r{n}@example.kr", "t"), info, f"why {n}")
        for n, (_, info) in enumerate(jobs)
    ]
    records = await sentlog.record_suppressed_many(suppressed, now=now)
    assert [records[key].reason for key, _, _ in suppressed] == [f"why {n}" for n in range(size)]
    async with sentlog.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT event_id, recipient, template, event_type, conversation_id, channel, locale,"
            " status, attempts, message_id, reason, claimed_at, created_at, updated_at"
            " FROM notifier_sent_log"
        )
        stored = {(row[0], row[1], row[2]): tuple(row[3:]) for row in rows.all()}
    assert len(stored) == 2 * size + 1
    twin = stored[tuple(twin_key)]
    for key, info in jobs:
        row = stored[tuple(key)]
        assert row[:4] == tuple(info)
        assert row[4:] == twin[4:]  # status, attempts, no message id, times: as the twin's
    for key, info, reason in suppressed:
        assert stored[tuple(key)][:8] == (*info, "suppressed", 0, None, reason)


async def test_a_polls_rate_slots_of_many_senders_each_get_their_own_answer(sentlog):
    """SQLite reads the holders with an ``IN`` list padded to a recurring size."""
    cutoff = T0 - timedelta(minutes=60)
    await sentlog.take_rate_slot("s-3@example.kr", event_id="old", now=T0, cutoff=cutoff)
    asked = [(f"s-{n}@example.kr", f"e{n}") for n in range(23)]
    allowed = await sentlog.take_rate_slots(asked, now=T0, cutoff=cutoff)
    assert allowed == {pair for pair in asked if pair[0] != "s-3@example.kr"}
