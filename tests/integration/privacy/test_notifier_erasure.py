"""The notifier's erasure (sent-log, rate slot, web-chat outbox) on SQLite AND
PostgreSQL, the migration of a sent-log written before issue #18, and the
consumer of ``support.privacy.v1`` over the real broker."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from libs.common.cloudevents import CloudEvent
from libs.common.kafka.producer import EventProducer
from libs.common.privacy.erasure import erasure_event_id, erasure_key, erasure_request
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from services.notifier.privacy import NotifierEraser, erasure_consumer
from services.notifier.sentlog import SendInfo, SendKey, SentLog, webchat_outbox
from tests.integration.privacy.helpers import HASH_KEY, table
from tests.integration.router.conftest import database_url, postgres_server

__all__ = ["database_url", "postgres_server"]
pytestmark = pytest.mark.integration

HASHER = IdentifierHasher(HASH_KEY.encode())
ALICE = "alice.kim@example.co.kr"
BOB = "bob@example.com"
NOW = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
INFO = SendInfo("support.conversation.opened", "conv-1", "email", "ko")


def sentlog_url(database_url: str) -> str:
    return database_url.replace("router.db", "notifier.db")


async def fill(sentlog: SentLog) -> None:
    for n, who in enumerate([ALICE, ALICE, BOB]):
        await sentlog.claim(SendKey(f"ev-{n}", who, "ack"), INFO, now=NOW)
        await sentlog.mark_sent(SendKey(f"ev-{n}", who, "ack"), message_id=f"<m{n}@desk>", now=NOW)
    await sentlog.take_rate_slot(ALICE, event_id="ev-0", now=NOW, cutoff=None)
    await sentlog.take_rate_slot(BOB, event_id="ev-2", now=NOW, cutoff=None)
    async with sentlog.engine.begin() as conn:
        for n, visitor in enumerate(["v-alice", "v-bob"]):
            await conn.execute(
                webchat_outbox.insert().values(
                    integration="site",
                    visitor=visitor,
                    idempotency_key=f"k-{n}",
                    purpose="agent_reply",
                    body=json.dumps({"text": f"hello {visitor}, about {ALICE if n == 0 else BOB}"}),
                    created_at=NOW,
                )
            )


async def scan(sentlog: SentLog, needles: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    found = {}
    async with sentlog.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        metadata = sa.MetaData()
        await conn.run_sync(lambda c: metadata.reflect(c, only=names))
        for name in sorted(names):
            rows = (await conn.execute(sa.select(metadata.tables[name]))).all()
            hits = sum(
                1 for r in rows if any(n in json.dumps([str(v) for v in r]) for n in needles)
            )
            found[f"notifier.{name}"] = (len(rows), hits)
    return found


def alice_request(at: datetime = NOW):
    return erasure_request(
        HASHER,
        identifiers=[(IdentifierKind.EMAIL, ALICE), (IdentifierKind.HANDLE, "webchat:v-alice")],
        contact_id="ct-alice",
        requested_by="sup-1",
        erased_at=at,
    )


async def test_erasure_removes_alice_keeps_bob_and_is_idempotent(database_url):
    sentlog = SentLog(sentlog_url(database_url), hasher=HASHER)
    await sentlog.open()
    try:
        await fill(sentlog)
        eraser = NotifierEraser(sentlog, HASHER)
        first = {r.store: (r.checked, r.erased) for r in await eraser.erase(alice_request())}
        assert first == {
            "notifier.sent_log": (3, 2),
            "notifier.rate_slot": (1, 1),
            "notifier.webchat_outbox": (1, 1),
        }
        result = await scan(sentlog, (ALICE, "v-alice"))
        print("\n" + table(result, "alice"))
        assert {k: hits for k, (_, hits) in result.items() if hits} == {}
        assert (await scan(sentlog, (BOB,)))["notifier.notifier_sent_log"] == (1, 1)  # bob stays
        again = await eraser.erase(alice_request())
        assert sum(r.erased for r in again) == 0
    finally:
        await sentlog.close()


async def test_a_sent_log_from_before_the_hash_column_is_migrated_and_hashed(database_url):
    url = sentlog_url(database_url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:  # the table as the notifier created it before #18
        await conn.execute(
            sa.text(
                "CREATE TABLE notifier_sent_log (event_id VARCHAR(200) NOT NULL,"
                " recipient VARCHAR(320) NOT NULL, template VARCHAR(100) NOT NULL,"
                " event_type VARCHAR(100) NOT NULL, conversation_id VARCHAR(200) NOT NULL,"
                " channel VARCHAR(16) NOT NULL, locale VARCHAR(16), status VARCHAR(16) NOT NULL,"
                " attempts INTEGER NOT NULL, message_id VARCHAR(300), reason TEXT,"
                " claimed_at TIMESTAMP WITH TIME ZONE,"
                " created_at TIMESTAMP WITH TIME ZONE NOT NULL,"
                " updated_at TIMESTAMP WITH TIME ZONE NOT NULL,"
                " CONSTRAINT pk_notifier_sent_log PRIMARY KEY (event_id, recipient, template))"
            )
        )
        for n, who in enumerate([ALICE, "agents-webhook"]):
            await conn.execute(
                sa.text(
                    "INSERT INTO notifier_sent_log VALUES (:e, :r, 'ack', 't', 'c', 'email', NULL,"
                    " 'sent', 1, NULL, NULL, NULL, :at, :at)"
                ),
                {"e": f"old-{n}", "r": who, "at": NOW},
            )
    await engine.dispose()
    sentlog = SentLog(url, hasher=HASHER)
    await sentlog.open()
    try:
        async with sentlog.engine.connect() as conn:
            hashes = dict(
                (
                    await conn.execute(
                        sa.text("SELECT recipient, recipient_hash FROM notifier_sent_log")
                    )
                ).all()
            )
        assert hashes == {ALICE: HASHER.email(ALICE), "agents-webhook": None}
        erased = await NotifierEraser(sentlog, HASHER).erase(alice_request())
        assert erased[0].erased == 1
    finally:
        await sentlog.close()


async def test_the_consumer_erases_what_the_topic_asks(database_url, kafka_topics):
    sentlog = SentLog(sentlog_url(database_url), hasher=HASHER)
    await sentlog.open()
    stop = asyncio.Event()
    try:
        await fill(sentlog)
        request = alice_request(datetime.now(UTC))
        async with EventProducer(kafka_topics, client_id="test-privacy") as producer:
            event = CloudEvent(
                id=erasure_event_id(request), source="test", type=request.ce_type, data=request
            )
            await producer.publish(kafka_topics.topics.privacy, event, key=erasure_key(request))
            consumer = erasure_consumer(
                kafka_topics,
                group_id="notifier-test.privacy",
                producer=producer,
                eraser=NotifierEraser(sentlog, HASHER),
            )
            task = asyncio.create_task(consumer.run(stop))
            async with asyncio.timeout(60):
                while (await scan(sentlog, (ALICE,)))["notifier.notifier_sent_log"][1]:  # noqa: ASYNC110 - the consumer writes the database
                    await asyncio.sleep(0.2)
            stop.set()
            await task
        assert (await scan(sentlog, (BOB,)))["notifier.notifier_sent_log"] == (1, 1)
        assert (await scan(sentlog, ("v-alice",)))["notifier.notifier_webchat_outbox"] == (1, 0)
    finally:
        stop.set()
        await sentlog.close()


async def test_prune_is_the_retention(database_url):
    sentlog = SentLog(sentlog_url(database_url), hasher=HASHER)
    await sentlog.open()
    try:
        await fill(sentlog)
        assert await sentlog.prune(before=NOW - timedelta(days=1)) == 0
        assert await sentlog.prune(before=NOW + timedelta(days=1)) == 3
    finally:
        await sentlog.close()
