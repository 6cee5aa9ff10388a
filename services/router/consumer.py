"""Kafka entry point: interactions → the routing service, one transaction per batch.

The runner's per-record path (retries, dead letters) stays the fallback: a batch
that fails is rolled back as a whole and its records are handled one by one.
A database outage is waited out (never dead-lettered): see ``database_unavailable``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.cloudevents import CloudEvent
from libs.common.events.interaction import Interaction
from libs.common.events.notification import (
    ABOUT_REPLY_EXTENSION,
    NOT_ABOUT_A_REPLY,
    NotificationOutcome,
)
from libs.common.kafka.consumer import ConsumerRunner, Delivery, PermanentError
from libs.common.kafka.producer import EventProducer
from libs.common.records import dict_constructor
from libs.common.settings import KafkaSettings
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.service.replies import apply_outcomes

log = logging.getLogger(__name__)
STAGE = "router.route"
OUTCOME_STAGE = "router.reply_outcome"

#: The outcome consumer's fetches: the broker answers once 1 MiB waits or after 250 ms.
#: Outcomes change reply states (and spend single-use reply paths, stop a clock at the
#: ``accepted_at`` they carry): nobody waits on them within a second, the scheduler
#: ticks once a second. With the shared settings (64 KB or 20 ms) the consumer fetched
#: ~42 times a second on the notifier's trickle of outcomes (1.1 per interaction in a
#: backlog): at 1,000 outcomes a second it cost 44.6 ms of CPU a second, 16.1 with these
#: (3.9 fetches a second, ~12x the outcomes a poll; in-process, load ~9).
OUTCOME_FETCH_MAX_WAIT_MS = 250
OUTCOME_FETCH_MIN_BYTES = 1024 * 1024
#: Outcomes the notifier marks as about no reply (``apply_outcomes`` would drop them) are
#: committed undecoded: most of them in a backlog (acknowledgements, staff mails), ~6 µs
#: of decode each (pydantic, in process) at ~1.1 outcomes per interaction routed.
NOT_ABOUT_A_REPLY_HEADER = (f"ce_{ABOUT_REPLY_EXTENSION}", NOT_ABOUT_A_REPLY.encode())


#: The interactions consumer's between-polls hook (the memory upkeep) waits for a poll
#: that ends with the next one's records not fetched yet, while polls are not full, up
#: to this long (``ConsumerRunner``'s ``between_polls_patience_s``): the upkeep's
#: collection no longer holds up a fetched poll of a stream; the upkeep runs at most a
#: second late (a backlog's full polls run it as before).
UPKEEP_PATIENCE_S = 1.0


#: ``Incoming(event_id, interaction)`` without the frozen dataclass's ``__init__`` (its
#: ``object.__setattr__`` a field): one an interaction routed (``libs.common.records``)
_incoming = dict_constructor(Incoming)


def incoming_from(delivery: Delivery) -> Incoming:
    event = delivery.event
    if event is None or not isinstance(event.data, Interaction):
        raise _not_an_interaction(event)
    return _incoming(event.id, event.data)


def incomings_from(deliveries: list[Delivery]) -> list[Incoming]:
    """``[incoming_from(d) for d in deliveries]`` without a call a delivery: a poll's."""
    incomings = []
    for delivery in deliveries:
        event = delivery.event
        if event is None or not isinstance(event.data, Interaction):
            raise _not_an_interaction(event)
        incomings.append(_incoming(event.id, event.data))
    return incomings


def _not_an_interaction(event: CloudEvent | None) -> PermanentError:
    return PermanentError(f"not an interaction: {event.type if event else 'undecoded'}")


class InteractionHandler:
    """The per-record handler (also used by tests and the fallback path)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx

    async def __call__(self, delivery: Delivery) -> None:
        await route_batch(self.ctx, [incoming_from(delivery)])


class BatchHandler:
    """A whole poll routed in one transaction (the runner falls back per record)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx

    async def __call__(self, deliveries: list[Delivery]) -> None:
        await route_batch(self.ctx, incomings_from(deliveries))


def database_unavailable(exc: BaseException) -> bool:
    """The store cannot be reached (as opposed to this record being bad): wait, retry.

    PostgreSQL restarting, refusing or dropping connections, or SQLite locked.
    """
    # asyncpg is imported by SQLAlchemy's PostgreSQL dialect only: on SQLite none of its
    # errors can occur, and importing it here cost the router ~3 MB of RSS for nothing.
    asyncpg = sys.modules.get("asyncpg")
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionError | TimeoutError):
            return True
        if isinstance(seen, DBAPIError) and (
            seen.connection_invalidated or isinstance(seen, OperationalError | InterfaceError)
        ):
            return True
        if asyncpg is not None and isinstance(
            seen, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def commits_survive_a_crash(engine: AsyncEngine) -> bool:
    """False when PostgreSQL acknowledges commits before their WAL is written.

    The consumer commits a batch's Kafka offsets once the batch's transaction has
    committed. With ``synchronous_commit = off`` a crash of the server takes back the
    last fraction of a second of acknowledged commits, while their offsets stay
    committed: those interactions are never routed and never redelivered (seen in
    the fault suite's PostgreSQL stop/start). The router's engine asks for ``on`` in
    its sessions; this check guards against that being overridden. SQLite (WAL,
    ``synchronous=FULL``) keeps commits through a crash of the process or machine.
    """
    if engine.dialect.name != "postgresql":
        return True
    async with engine.connect() as connection:
        setting = await connection.scalar(text("SHOW synchronous_commit"))
    return setting != "off"


def build_consumer(
    settings: KafkaSettings,
    ctx: RouterContext,
    producer: EventProducer,
    *,
    group_id: str,
    max_batch: int,
    partition_fetch_bytes: int | None = None,
    fetch_max_wait_ms: int | None = None,
    fetch_min_bytes: int | None = None,
    between_polls: Callable[[], object] | None = None,
) -> ConsumerRunner:
    return ConsumerRunner(
        settings,
        handler=InteractionHandler(ctx),
        batch_handler=BatchHandler(ctx),
        is_outage=database_unavailable,
        stage=STAGE,
        topics=[settings.topics.interactions],
        group_id=group_id,
        producer=producer,
        max_batch=max_batch,
        client_id="router",
        max_partition_fetch_bytes=partition_fetch_bytes,
        fetch_max_wait_ms=fetch_max_wait_ms,
        fetch_min_bytes=fetch_min_bytes,
        between_polls=between_polls,
        between_polls_patience_s=UPKEEP_PATIENCE_S,
    )


class OutcomeHandler:
    """``support.notifications.v1`` → reply states (and the clock when a provider accepted)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx

    async def __call__(self, delivery: Delivery) -> None:
        await apply_outcomes(self.ctx, [outcome_from(delivery)])


class OutcomeBatchHandler:
    """A whole poll of outcomes in one transaction (the runner falls back per record)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx

    async def __call__(self, deliveries: list[Delivery]) -> None:
        await apply_outcomes(self.ctx, [outcome_from(d) for d in deliveries])


def outcome_from(delivery: Delivery) -> tuple[str, NotificationOutcome]:
    event = delivery.event
    if event is None or not isinstance(event.data, NotificationOutcome):
        raise PermanentError(f"not a notification outcome: {event.type if event else '?'}")
    return event.id, event.data


def build_outcome_consumer(
    settings: KafkaSettings,
    ctx: RouterContext,
    producer: EventProducer,
    *,
    group_id: str,
) -> ConsumerRunner:
    return ConsumerRunner(
        settings,
        handler=OutcomeHandler(ctx),
        batch_handler=OutcomeBatchHandler(ctx),
        is_outage=database_unavailable,
        stage=OUTCOME_STAGE,
        topics=[settings.topics.notifications],
        group_id=group_id,
        producer=producer,
        client_id="router-outcomes",
        fetch_max_wait_ms=OUTCOME_FETCH_MAX_WAIT_MS,
        fetch_min_bytes=OUTCOME_FETCH_MIN_BYTES,
        skip_header=NOT_ABOUT_A_REPLY_HEADER,
    )
