"""Contact ids are time-ordered (``intake.new_contact_id``): two first interactions of one
customer make two different ids, so what keeps one contact per customer is the identity's
primary key (kind, value) and the routing transaction, never the id. These tests hold the
paths that rely on it: two replicas at once, a transaction that loses the identity race,
and a customer who comes back after an erasure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import func, insert, select, text

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.ids import time_ordered_id
from libs.common.privacy.identifiers import IdentifierKind, PrivacySettings
from services.router.bootstrap import build_context, open_store
from services.router.service.context import RouterContext
from services.router.service.erasure import erase_contact, resolve_contact
from services.router.service.interactions import Incoming, route_batch
from services.router.settings import RouterSettings
from services.router.store.models import (
    Contact,
    ContactIdentity,
    Conversation,
    InteractionRecord,
)
from tests.integration.privacy.helpers import HASH_KEY
from tests.integration.router.conftest import MovableClock

pytestmark = pytest.mark.integration


def mail(at: datetime, email: str, n: int) -> Incoming:
    interaction = Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(email=email),
        subject="Deposit not credited",
        body=MessageBody(text="My deposit is missing"),
        thread=ThreadHints(message_id=f"<{n}.{email}>"),
    )
    return Incoming(f"ev-mail-{email}-{n}", interaction)


def chat(at: datetime, email: str, phone: str) -> Incoming:
    interaction = Interaction(
        channel=Channel.CHAT,
        provider="telegram",
        integration="bot",
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(email=email, phone=phone, handle=f"telegram:{phone[-6:]}"),
        body=MessageBody(text="Still waiting for my deposit"),
    )
    return Incoming(f"ev-chat-{email}", interaction)


async def contact_of(ctx: RouterContext, event_id: str) -> str:
    """The contact of the conversation the interaction was routed to."""
    async with ctx.uow.reader() as uow:
        contacts = await uow.session.scalars(
            select(Conversation.contact_id)
            .join(InteractionRecord, InteractionRecord.conversation_id == Conversation.id)
            .where(InteractionRecord.event_id == event_id)
        )
        return contacts.one()


@pytest.fixture
async def replicas(
    store_settings: RouterSettings, clock: MovableClock
) -> AsyncIterator[tuple[RouterContext, RouterContext]]:
    """Two routers on one database, each with its own engine (its own connections)."""
    if store_settings.is_sqlite:
        pytest.skip("one replica only on SQLite")
    engines = [await open_store(store_settings) for _ in range(2)]
    yield (
        build_context(store_settings, engines[0], clock=clock),
        build_context(store_settings, engines[1], clock=clock),
    )
    for engine in engines:
        await engine.dispose()


async def test_replicas_routing_a_new_customer_at_once_make_one_contact(replicas, clock):
    """Each replica has a different first interaction of the same customer (a mail and a
    chat naming the same address, in two partitions): their contact ids would differ,
    but the assignment lock taken before the identity owners are read makes the second
    transaction find the first's contact."""
    first, second = replicas
    start = clock()
    customers = [f"race{n}@example.com" for n in range(12)]
    for n, email in enumerate(customers):
        at = start + timedelta(seconds=n)
        await asyncio.gather(
            route_batch(first, [mail(at, email, 1)]),
            route_batch(second, [chat(at + timedelta(milliseconds=1), email, f"+82105550{n:04d}")]),
        )
    async with first.uow.reader() as uow:
        per_email = dict(
            (
                await uow.session.execute(
                    select(ContactIdentity.value, ContactIdentity.contact_id).where(
                        ContactIdentity.kind == "email"
                    )
                )
            ).all()
        )
        contacts = await uow.session.scalar(select(func.count()).select_from(Contact))
    assert set(per_email) == set(customers)
    assert contacts == len(customers)
    for email in customers:
        assert await contact_of(first, f"ev-mail-{email}-1") == per_email[email]
        assert await contact_of(first, f"ev-chat-{email}") == per_email[email]


async def test_a_batch_that_loses_the_identity_race_rolls_back_and_its_retry_finds_the_winner(
    replicas, clock
):
    """Were a contact's identity written by a transaction routing does not serialise with,
    between this batch's read of the owners and its commit, the identity's primary key
    fails the batch (nothing of it is kept) and routing it again (the consumer runner
    retries a failed poll record by record, tests/integration/common/
    test_consumer_runner.py) joins the contact that won."""
    router, _ = replicas
    at = clock()
    item = mail(at, "late@example.com", 1)
    winner = time_ordered_id("router.contact", at - timedelta(seconds=1), "email:winner")
    async with router.uow() as other:  # another writer, not under the assignment lock
        connection = await other.session.connection()
        await connection.execute(insert(Contact).values(id=winner, created_at=at))
        await connection.execute(
            insert(ContactIdentity).values(
                kind="email", value="late@example.com", contact_id=winner
            )
        )
        routing = asyncio.create_task(route_batch(router, [item]))
        await _until_waiting_on_a_lock(router)
        await other.commit()
    with pytest.raises(asyncpg.UniqueViolationError, match="contact_identities_pkey"):
        await routing  # the identity goes to the driver itself (store/bulk.py)
    async with router.uow.reader() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Conversation)) == 0

    assert await route_batch(router, [item]) == 1
    assert await contact_of(router, item.event_id) == winner


async def _until_waiting_on_a_lock(ctx: RouterContext) -> None:
    """Until a session of the database waits for a lock (the routing insert of the
    identity, blocked by the other writer's uncommitted row)."""
    for _ in range(500):
        async with ctx.uow.reader() as uow:
            waiting = await uow.session.scalar(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("routing never waited for the other writer's identity row")


async def test_a_customer_back_after_an_erasure_is_a_new_contact_that_can_be_erased(
    store_settings: RouterSettings, clock: MovableClock
):
    """With ids derived from the address alone, the customer's next mail made a contact
    with the erased contact's id, which ``erase_contact`` then answered "already erased"
    and left unerased."""
    settings = store_settings.model_copy(update={"privacy": PrivacySettings(hash_key=HASH_KEY)})
    engine = await open_store(settings)
    try:
        ctx = build_context(settings, engine, clock=clock)
        email = "back@example.com"
        await route_batch(ctx, [mail(clock(), email, 1)])
        erased_id = await resolve_contact(ctx, IdentifierKind.EMAIL, email)
        assert erased_id is not None
        assert not (await erase_contact(ctx, erased_id, requested_by="sup-1")).already

        clock.advance(days=3)
        await route_batch(ctx, [mail(clock(), email, 2)])
        returning_id = await resolve_contact(ctx, IdentifierKind.EMAIL, email)
        assert returning_id is not None and returning_id != erased_id
        second = await erase_contact(ctx, returning_id, requested_by="sup-1")
        assert not second.already
        assert await resolve_contact(ctx, IdentifierKind.EMAIL, email) is None
        async with ctx.uow.reader() as uow:
            subjects = await uow.session.scalars(select(Conversation.subject))
            assert set(subjects) == {None}  # both conversations scrubbed
    finally:
        await engine.dispose()
