"""Route interactions: contact → thread → classify → clocks → assignment → events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from libs.common.events.interaction import (
    CustomerIdentity,
    Flags,
    Interaction,
)
from libs.common.events.routing import (
    CallbackRequested,
    ConversationOpened,
    ConversationReopened,
    InteractionRouted,
)
from libs.common.ids import name_prefix, time_ordered_id_named
from services.router.domain.classification import classify, customer_attributes
from services.router.domain.contacts import resolve_contact
from services.router.domain.intake import (
    ANSWER_UNLESS_OURS,
    ANSWER_YES,
    NOTE_CHARS,
    agent_answer,
    bounce_original,
    call_group_key,
    callback_phone,
    callback_reason,
    conversation_reference,
    conversation_tags,
    customer_values,
    first_of_each,
    from_customer,
    ignored_reason,
    is_automated,
    new_contact_id,
    newer_reply_path,
    own_message_id,
    response_promise,
    short_subject,
    thread_key,
)
from services.router.domain.lifecycle import ConversationStatus, next_status
from services.router.domain.members import (
    CHANNEL_VALUES,
    CHAT,
    DELIVERY_STATUS,
    DIRECTION_VALUES,
    EMAIL,
    IDENTITY_KIND_VALUES,
    KIND_VALUES,
    PRIORITY_VALUES,
    REOPEN_TRIGGER,
    RESOLVED,
    channel_of,
    status_of,
)
from services.router.domain.threading import (
    JOINS,
    NO_MESSAGES,
    OPENS,
    REOPENS,
    ConversationRef,
    ThreadCandidates,
    email_reference_ids,
    reopens,
    thread_interaction,
)
from services.router.service import assistant_flow
from services.router.service.assigning import assign_or_queue
from services.router.service.attachments import record_attachments
from services.router.service.clocks import on_agent_response, on_customer_message
from services.router.service.columns import columns
from services.router.service.context import RouterContext
from services.router.service.csat_answers import chat_answer, store_rating, survey_open
from services.router.service.events import MAX_REFERENCES, Emitter, response_promise_of
from services.router.service.pool import assignment_pool, keep_assignment_pool
from services.router.service.replies import apply_receipt
from services.router.service.routing_cache import ANY, RoutingCache, plan_prefetch, prefetch
from services.router.service.send_schedule import send_points
from services.router.store.models import (
    Contact,
    ContactIdentity,
    Conversation,
    InteractionRecord,
    MessageIndex,
    Reply,
)
from services.router.store.unit_of_work import (
    UnitOfWork,
    new_row,
    set_values,
    unflushed_values,
)

log = logging.getLogger(__name__)
PREVIEW_CHARS = 4000
_OPEN = ConversationStatus.OPEN.value
_CONVERSATION_COUNTER = "conversation"  # the counter of conversation references
#: ``time_ordered_id("router.conversation", received_at, event_id)``'s kind, hashed first
_CONVERSATION_IDS = name_prefix("router.conversation")
#: Routing a batch is mostly CPU; yield to the event loop this often.
YIELD_EVERY = 20
#: PostgreSQL: while rows sent ahead are in flight (``UnitOfWork.send_ahead``, every
#: ``RoutingOptions.send_ahead_every`` interactions), the loop turns this often: each of
#: their round trips (a COPY is two, ~8 tables) goes on only when this task lets the loop
#: run. Yielding every 20 interactions (~1.5 ms) a send of 100 interactions' rows took
#: ~24 ms and most of them were still waited for at the commit (every 5: +4 K fewer
#: instructions an interaction than every 2, callgrind, three sends a poll of 400).
YIELD_WHILE_SENDING = 2


@dataclass(frozen=True)
class Incoming:
    event_id: str
    interaction: Interaction


async def route_batch(ctx: RouterContext, batch: list[Incoming]) -> int:
    """Route a batch in one transaction; duplicates (by event id) are skipped."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        await uow.serialise_assignment(defer_foreign_keys=True)  # for send_ahead
        # SQLite: the agents and their loads come in the same hop as the known event ids;
        # so does the conversation counter a new conversation takes its number from (on
        # PostgreSQL row-locked in that statement, after the assignment lock): one round
        # trip less in a poll that opens a conversation. So do the routing cache's reads
        # for the whole poll when none of it is known (the usual poll; a redelivered
        # one reads them for what is left, in a hop of their own, as before).
        first = first_of_each(batch, _event_id)
        plan = plan_prefetch([i.interaction for i in first], recent_window=_recent_window(ctx))
        done, agents, read = await uow.interactions.known_agents_and(
            (i.event_id for i in batch),
            plan.sqlite_read(uow),
            counters=uow.counters,
            counter=_CONVERSATION_COUNTER,
        )
        todo = [i for i in first if i.event_id not in done] if done else first
        if not todo:
            return 0
        if agents is not None:
            keep_assignment_pool(uow, *agents)
        if read is not None:  # nothing was known: ``first`` is ``todo``
            cache = plan.filled(uow, *uow.contacts.candidates_of(read))
        elif done:
            cache = await prefetch(
                uow, [i.interaction for i in todo], recent_window=_recent_window(ctx)
            )
        else:
            cache = await plan.read(uow)
        await assignment_pool(uow)  # agents and loads, before the batch changes anything
        sends = send_points(len(todo), ctx.options.send_ahead_every) if uow.postgres else ()
        with uow.session.no_autoflush:
            for index, item in enumerate(todo, 1):
                await route_one(uow, ctx, cache, item, now)
                if index in sends:
                    await uow.send_ahead()  # PostgreSQL writes them while this goes on
                if index % YIELD_EVERY == 0 or (
                    index % YIELD_WHILE_SENDING == 0 and uow.sending_ahead
                ):
                    await asyncio.sleep(0)  # mostly in-memory work: let heartbeats run
        await uow.commit()
    return len(todo)


def _event_id(item: Incoming) -> str:
    return item.event_id


def _recent_window(ctx: RouterContext) -> timedelta:
    policy = ctx.options.threading
    return max(policy.chat_window, policy.phone_window)


async def route_one(
    uow: UnitOfWork, ctx: RouterContext, cache: RoutingCache, item: Incoming, now: datetime
) -> None:
    interaction = item.interaction
    emitter = Emitter(uow, ctx, item.event_id, now)  # by position (Emitter.__init__)
    fields = interaction.__dict__  # field reads (domain/intake.py)
    # a mail's bounced Message-ID and the ids it answers, worked out once here, not by
    # each step that reads them (a reply's ids were worked out twice, a bounce's thrice)
    original = bounce_original(interaction)
    reference_ids = email_reference_ids(interaction) if fields["channel"] is EMAIL else None
    bounced = _bounced_conversation(cache, original) if original else None
    contact_id = bounced.contact_id if bounced else _resolve_contact(uow, cache, interaction, now)
    candidates = _candidates(cache, interaction, contact_id, bounced, original, reference_ids)
    decision = thread_interaction(
        interaction,
        contact_id,
        candidates,
        fields["occurred_at"],
        ctx.options.threading,
        reference_ids,
    )
    if decision.action is REOPENS and await _survey_answered(
        uow, ctx, cache, decision.conversation, interaction, now
    ):
        decision = decision._replace(action=JOINS, reason="answer to the CSAT survey")
    if decision.action is OPENS:
        conversation = _new_conversation(
            ctx, item, contact_id, await uow.counters.next_value(_CONVERSATION_COUNTER)
        )
        uow.add_new(conversation)
    else:
        assert decision.conversation is not None
        conversation = cache.conversations[decision.conversation.id]
    # the conversation's columns read once here and handed on (a live view: what routing
    # sets below shows in it), not looked up again by each step (~1.4 K instructions each)
    values = columns(conversation)
    customer_wrote = from_customer(interaction)  # asked once: _record needs it too
    _record(
        uow,
        cache,
        conversation,
        values,
        item,
        contact_id,
        now,
        note=decision.reason,
        customer_wrote=customer_wrote,
    )
    if customer_wrote:  # _record stored these dumped from the interaction
        emitter.already_parsed(values["customer"], fields["customer"])
        emitter.already_parsed(values["customer_flags"], fields["flags"])
    if decision.action is OPENS:
        await _opened(uow, ctx, emitter, conversation, values, interaction, decision.reason)
    elif decision.action is REOPENS:
        await _reopened(uow, ctx, emitter, conversation, interaction, decision.reason)
    else:
        await _joined(uow, ctx, emitter, conversation, values, interaction, decision.reason)
    call = fields["call"]
    if call is not None and call.callback_requested:
        # phone_log decides: missed inbound calls and voicemails, never our own legs.
        await _callback(emitter, conversation, interaction)
    cache.remember_conversation(conversation, values)


async def _survey_answered(
    uow: UnitOfWork,
    ctx: RouterContext,
    cache: RoutingCache,
    ref: ConversationRef | None,
    interaction: Interaction,
    now: datetime,
) -> bool:
    """A chat customer answering the survey ("4", a quick-reply "csat:4") does not reopen."""
    score = chat_answer(interaction.body.text)
    if ref is None or score is None or interaction.channel is not CHAT:
        return False
    conversation = cache.conversations[ref.id]
    if not survey_open(conversation, now, ctx.csat.valid_for):
        return False
    await store_rating(uow, conversation.id, score, None, interaction.occurred_at)
    return True


async def _callback(emitter: Emitter, conversation: Conversation, interaction: Interaction) -> None:
    await emitter.emit(
        CallbackRequested,
        conversation,
        reason=callback_reason(interaction),
        phone=callback_phone(interaction),
        missed_at=interaction.occurred_at,
    )


def _bounced_conversation(cache: RoutingCache, original: str) -> Conversation | None:
    """The conversation of the mail a bounce reports on (``bounce_original``)."""
    return next(iter(cache.message_candidates([original], None).values()), None)


def _resolve_contact(
    uow: UnitOfWork, cache: RoutingCache, interaction: Interaction, now: datetime
) -> str:
    keys = cache.identity_keys(interaction)
    # the poll's owners as they are: resolve_contact looks up only ``keys`` in them
    resolution = resolve_contact(keys, cache.owners)
    contact_id = resolution.contact_id
    if contact_id is None:
        contact_id = new_contact_id(interaction, keys)
        customer = interaction.__dict__["customer"].__dict__  # field reads (domain/intake.py)
        uow.insert_later(
            Contact,
            {
                "id": contact_id,
                "display_name": customer["display_name"],
                "locale": customer["locale"],
                "created_at": now,
            },
        )
    if resolution.conflict:
        log.warning("contact conflict for %s: %s", interaction.customer_key, resolution.reason)
    attach = resolution.attach
    if attach:  # a returning customer's keys are all known: no call to remember nothing
        for key in attach:
            uow.insert_later(
                ContactIdentity,
                {
                    "kind": IDENTITY_KIND_VALUES[key.kind],
                    "value": key.value,
                    "contact_id": contact_id,
                },
            )
        cache.remember_identities(contact_id, attach)
    return contact_id


def _ref(conversation: Conversation | None) -> ConversationRef | None:
    if conversation is None:
        return None
    values = columns(conversation)
    # positionally (keywords are matched to the fields in Python: namedtuple's __new__)
    return ConversationRef(
        values["id"],
        values["contact_id"],
        channel_of(values["channel"]),
        status_of(values["status"]),
        values["last_activity_at"],
        values["resolved_at"],
    )


def _candidates(
    cache: RoutingCache,
    interaction: Interaction,
    contact_id: str,
    bounced: Conversation | None,
    original: str | None,
    reference_ids: list[str] | None,
) -> ThreadCandidates:
    """``original``: the interaction's ``bounce_original``; ``reference_ids``: its
    ``email_reference_ids`` (a mail's; None for any other channel)."""
    fields = interaction.__dict__  # field reads (domain/intake.py)
    channel = fields["channel"]
    if channel is EMAIL:
        assert reference_ids is not None
        by_id = cache.message_candidates(reference_ids, contact_id)
        if bounced is not None and original:
            by_id[original] = bounced
        token = fields["thread"].__dict__["subject_token"]
        # ThreadCandidates by position here and below: a class called with keywords
        # passes them to its __new__ in a dict made and unpacked (~1.5 K instructions)
        return ThreadCandidates(
            # by_message_id: most mails point at no known Message-ID, no comprehension
            {k: _ref(v) for k, v in by_id.items()} if by_id else {},  # type: ignore[misc]
            _ref(cache.by_reference.get(token)) if token else None,  # by_subject_token
        )
    # a chat's or call's thread and the contact's latest on the channel: no _ref call for
    # none (a new customer's), one ref for both where they are the same conversation (a
    # returning customer's, usually)
    if channel is CHAT:
        key = thread_key(interaction)
        threaded = cache.by_thread.get((key, contact_id)) if key else None
        latest = cache.latest.get((contact_id, "chat", fields["integration"]))
    else:
        key = call_group_key(interaction)
        threaded = cache.by_call_group.get((key, contact_id)) if key else None
        latest = cache.latest.get((contact_id, "phone", ANY))
    threaded_ref = None if threaded is None else _ref(threaded)
    latest_ref = threaded_ref if latest is threaded else None if latest is None else _ref(latest)
    if channel is CHAT:  # by_provider_thread, latest_on_channel
        return ThreadCandidates(NO_MESSAGES, None, threaded_ref, None, latest_ref)
    return ThreadCandidates(NO_MESSAGES, None, None, threaded_ref, latest_ref)  # by_call_group


def _new_conversation(
    ctx: RouterContext, item: Incoming, contact_id: str, number: int
) -> Conversation:
    interaction = item.interaction
    fields = interaction.__dict__  # field reads (domain/intake.py)
    received_at = fields["received_at"]
    rules = ctx.config.current.rules
    matched = customer_values(fields["customer"])
    result = classify(interaction, rules, customer_attributes(rules, matched))
    conversation_id = time_ordered_id_named(_CONVERSATION_IDS, received_at, item.event_id)
    automated = is_automated(interaction)
    # every column, in the table's order (``_NEW_CONVERSATION``), the computed ones set
    values = _NEW_CONVERSATION.copy()
    values["id"] = conversation_id
    values["reference"] = conversation_reference(number)
    values["contact_id"] = contact_id
    values["channel"] = CHANNEL_VALUES[fields["channel"]]
    values["provider"] = fields["provider"]
    values["integration"] = fields["integration"]
    values["queue"] = result.queue
    values["priority"] = PRIORITY_VALUES[result.priority]
    values["language"] = result.language
    values["subject"] = short_subject(fields["subject"])
    values["tags"] = conversation_tags(result.tags, automated=automated)
    values["skills"] = list(result.skills)
    values["automated"] = automated
    values["customer"] = {}  # the mutable ones new for each row, not the template's
    values["customer_flags"] = {}
    values["opened_at"] = received_at
    values["last_activity_at"] = fields["occurred_at"]
    values["references"] = []
    values["thread_key"] = thread_key(interaction)
    values["call_group_key"] = call_group_key(interaction)
    return new_row(Conversation, values)


#: A new conversation's values (``_new_conversation``): every column, in the table's order
#: (the INSERT's values are the row's dict copied: unit_of_work._column_values), those
#: worked out per conversation None here and set there, on a copy. Those routing may set
#: later are given too: routing reads them from its dict (``columns``), and the ORM reads
#: a column missing from a new object through its slow default path (~1 µs each; routing
#: reads ~8 such per new conversation). None is what the insert wrote for them anyway (no
#: defaults); assistant_answers' default is 0. A copy and 20 values set, not a display of
#: 43 (past 15 items 3.11 builds a display by one MAP_ADD an item, the dict resized as it
#: grows): callgrind, 26.4 -> 14.4 K instructions for 43 keys, each value set.
_NEW_CONVERSATION: dict[str, object] = {
    "id": None,
    "reference": None,
    "contact_id": None,
    "channel": None,
    "provider": None,
    "integration": None,
    "status": _OPEN,
    "queue": None,
    "priority": None,
    "language": None,
    "subject": None,
    "tags": None,
    "skills": None,
    "automated": None,
    "customer": None,
    "customer_flags": None,
    "assignee_id": None,
    "queued_at": None,
    "opened_at": None,
    "last_activity_at": None,
    "resolved_at": None,
    "first_response_at": None,
    "first_response_due_at": None,
    "awaiting_since": None,
    "policy": None,
    "resolution_elapsed_minutes": 0.0,
    "resolution_running_since": None,
    "breached": False,
    "escalation_level": 0,
    "clock_cycle": 0,
    "last_message_id": None,
    "references": None,
    "thread_key": None,
    "call_group_key": None,
    "reply_path": None,
    "customer_last_inbound_at": None,
    "assistant_status": None,
    "assistant_answers": 0,
    "assistant_article_id": None,
    "assistant_question": None,
    "assistant_outcome": None,
    "assistant_quiet_check_at": None,
    "text_purged_at": None,
}


def _record(
    uow: UnitOfWork,
    cache: RoutingCache,
    conversation: Conversation,
    values: Mapping[str, Any],
    item: Incoming,
    contact_id: str,
    now: datetime,
    *,
    note: str,
    customer_wrote: bool,
) -> None:
    """``values``: ``columns(conversation)``, a live view (set_values below changes it);
    ``customer_wrote``: ``from_customer(interaction)``, as the caller asked it."""
    interaction = item.interaction
    fields = interaction.__dict__  # field reads (domain/intake.py)
    message_id = own_message_id(interaction)
    conversation_id = values["id"]
    occurred_at, customer_identity = fields["occurred_at"], fields["customer"]
    uow.insert_later(
        InteractionRecord,
        {
            "event_id": item.event_id,
            "conversation_id": conversation_id,
            "contact_id": contact_id,
            "channel": CHANNEL_VALUES[fields["channel"]],
            "direction": DIRECTION_VALUES[fields["direction"]],
            "kind": KIND_VALUES[fields["kind"]],
            "occurred_at": occurred_at,
            "processed_at": now,
            "message_id": message_id,
            "author": customer_identity.__dict__["display_name"] or fields["customer_key"],
            "subject": short_subject(fields["subject"]),
            "text": fields["body"].__dict__["text"][:PREVIEW_CHARS],
            "note": note[:NOTE_CHARS],
        },
    )
    record_attachments(uow, item.event_id, conversation_id, interaction)
    changes: dict[str, object] = {"last_activity_at": max(values["last_activity_at"], occurred_at)}
    if customer_wrote:
        customer = customer_identity_values(customer_identity)
        flags = flags_values(fields["flags"])
        # a returning customer's are usually what the conversation holds: on a loaded
        # row an equal value is not set (each set is ~5 K instructions of the ORM's
        # tracking, and its UPDATE skips equal values anyway; JSON compares by ==)
        loaded = unflushed_values(conversation) is None
        if not loaded or customer != values["customer"]:
            changes["customer"] = customer
        if not loaded or flags != values["customer_flags"]:
            changes["customer_flags"] = flags
        _remember_reply_path(values, interaction, changes)
    if message_id:
        if cache.remember_message(message_id, conversation):
            uow.insert_later(
                MessageIndex, {"message_id": message_id, "conversation_id": conversation_id}
            )
        changes["last_message_id"] = message_id
        changes["references"] = [*(values["references"] or []), message_id][-MAX_REFERENCES:]
    # set together: in place on a conversation this poll opened (set_values)
    set_values(conversation, changes)


def customer_identity_values(customer: CustomerIdentity) -> dict[str, object]:
    """``customer.model_dump(mode="json", exclude_none=True)``: as ``flags_values``,
    its fields are strings (or None) and a boolean, the same in JSON mode (~8 K → ~2 K
    instructions per interaction from a customer)."""
    if type(customer) is not CustomerIdentity:
        serializer = type(customer).__pydantic_serializer__
        return serializer.to_python(customer, mode="json", exclude_none=True)  # type: ignore[no-any-return]
    return {name: value for name, value in customer.__dict__.items() if value is not None}


def flags_values(flags: Flags) -> dict[str, object]:
    """``flags.model_dump(mode="json")``: every field of ``Flags`` is a boolean or an
    optional string, the same in JSON mode, and a validated instance holds exactly its
    fields in their order (unknown ones ignored), so a copy of its own values: ~9 K →
    ~1.5 K instructions per interaction (``tests/unit/router/test_columns.py`` checks
    the fields' types and the equality). A subclass is dumped as before."""
    if type(flags) is not Flags:
        return type(flags).__pydantic_serializer__.to_python(flags, mode="json")  # type: ignore[no-any-return]
    return dict(flags.__dict__)


def _remember_reply_path(
    conversation: Mapping[str, Any], interaction: Interaction, changes: dict[str, object]
) -> None:
    """The latest way to answer the customer, and when they last wrote (provider windows)."""
    fields = interaction.__dict__  # field reads (domain/intake.py)
    occurred_at = fields["occurred_at"]
    if not newer_reply_path(conversation["customer_last_inbound_at"], occurred_at):
        return
    changes["customer_last_inbound_at"] = occurred_at
    reply_path = fields["reply_path"]
    if reply_path is not None:  # model_dump(mode="json", exclude_none=True), as in _record
        changes["reply_path"] = type(reply_path).__pydantic_serializer__.to_python(
            reply_path, mode="json", exclude_none=True
        )


async def _our_own_message(uow: UnitOfWork, interaction: Interaction) -> bool:
    provider_id = interaction.provider_message_id
    if not provider_id:
        return False
    found = await uow.session.scalar(
        select(Reply.id).where(Reply.provider_message_id == provider_id).limit(1)
    )
    return found is not None


def _apply_effect(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    interaction: Interaction,
    values: Mapping[str, Any],
) -> Coroutine[Any, Any, None] | None:
    """The interaction's effect on the conversation's clocks (``_apply_effect_by_steps``,
    the coroutine it was, says what): applied here, returning None, unless it needs the
    store (a receipt; an outbound message to match against our replies), for which it
    returns the coroutine to await. Most interactions need nothing awaited: a plain
    call, not a coroutine made, awaited and finished every time. ``values``:
    ``columns(conversation)``, a live view the caller has (its status read here)."""
    fields = interaction.__dict__  # field reads (domain/intake.py)
    at = _effect_time(ctx, fields["received_at"], emitter.now)
    if fields["kind"] is DELIVERY_STATUS:
        return _apply_receipt(uow, ctx, emitter, interaction)
    answer = agent_answer(interaction)
    if answer is ANSWER_UNLESS_OURS:
        return _apply_unless_ours(uow, ctx, conversation, interaction, at)
    if answer is ANSWER_YES:
        on_agent_response(uow, ctx, conversation, at)
    elif reopens(interaction) and values["status"] != RESOLVED:
        on_customer_message(uow, ctx, conversation, at)
    return None


async def _apply_receipt(
    uow: UnitOfWork, ctx: RouterContext, emitter: Emitter, interaction: Interaction
) -> None:
    note = await apply_receipt(uow, ctx, emitter.cause, interaction)
    log.debug("%s: %s", emitter.cause, note)


async def _apply_unless_ours(
    uow: UnitOfWork,
    ctx: RouterContext,
    conversation: Conversation,
    interaction: Interaction,
    at: datetime,
) -> None:
    """An outbound message by a person: an answer unless omnidesk sent it."""
    if not await _our_own_message(uow, interaction):
        on_agent_response(uow, ctx, conversation, at)
    elif reopens(interaction) and columns(conversation)["status"] != RESOLVED:
        on_customer_message(uow, ctx, conversation, at)


async def _apply_effect_by_steps(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    interaction: Interaction,
) -> None:
    """``_apply_effect`` as one coroutine: what it is held equal to in tests."""
    fields = interaction.__dict__  # field reads (domain/intake.py)
    at = _effect_time(ctx, fields["received_at"], emitter.now)
    if fields["kind"] is DELIVERY_STATUS:
        note = await apply_receipt(uow, ctx, emitter.cause, interaction)
        log.debug("%s: %s", emitter.cause, note)
        return
    answer = agent_answer(interaction)
    if answer is ANSWER_YES or (
        answer is ANSWER_UNLESS_OURS and not await _our_own_message(uow, interaction)
    ):
        on_agent_response(uow, ctx, conversation, at)
    elif reopens(interaction) and columns(conversation)["status"] != RESOLVED:
        on_customer_message(uow, ctx, conversation, at)


def _effect_time(ctx: RouterContext, received_at: datetime, poll_now: datetime) -> datetime:
    """``min(received_at, ctx.clock())``, without reading the clock when ``received_at``
    is not after the poll's own ``ctx.clock()`` (``poll_now``, read before this one): a
    clock that does not go back reads no earlier now, so the minimum is ``received_at``
    either way. The clock is read only for an interaction stamped ahead of the poll (an
    ingest host's clock ahead of ours). One ``datetime.now(UTC)`` per routed
    interaction saved (~1.3 % of the poll's samples in py-spy)."""
    if received_at <= poll_now:
        return received_at
    return min(received_at, ctx.clock())


async def _opened(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    values: Mapping[str, Any],
    interaction: Interaction,
    reason: str,
) -> None:
    """``values``: ``columns(conversation)`` (a live view)."""
    pending = _apply_effect(uow, ctx, emitter, conversation, interaction, values)
    if pending is not None:  # a receipt, or an outbound message to match
        await pending
    # from the values at hand (the assistant taking it changes none of queue, priority
    # and channel); its take awaited only where it is offered
    terms = ctx.config.current.policies.opening_terms(
        values["queue"], values["priority"], values["channel"]
    )
    with_assistant = terms.assistant and assistant_flow.offered_to_assistant(values, terms.policy)
    if with_assistant:
        await assistant_flow.take(uow, conversation, emitter.now)
    automated, due_at = values["automated"], values["first_response_due_at"]
    target_minutes = terms.first_response_minutes
    await emitter.emit(
        ConversationOpened,
        conversation,
        reason=reason,
        first_response_target_minutes=None if automated else target_minutes,
        first_response_due_at=due_at,
        business_hours_note=terms.business_hours_note,
        promise=response_promise(
            automated=automated,
            due_at=due_at,
            target_minutes=target_minutes,
            calendar_name=terms.calendar_name,
            calendar=terms.calendar,
            at=interaction.__dict__["received_at"],  # field reads (domain/intake.py)
            build=response_promise_of,
        ),
    )
    # nothing changed since ConversationOpened: its snapshot again (``emit``'s unchanged)
    await _routed(emitter, conversation, interaction, opened=True, unchanged=True)
    if with_assistant:
        await assistant_flow.request_turn(emitter, conversation, interaction)
    elif values["status"] != RESOLVED:
        await assign_or_queue(
            uow,
            ctx,
            emitter,
            conversation,
            reason=f"new conversation in {values['queue']}",
            unchanged=True,  # since InteractionRouted
            values=values,
        )


async def _reopened(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    interaction: Interaction,
    reason: str,
) -> None:
    previous_agent = conversation.assignee_id
    conversation.status = next_status(RESOLVED, REOPEN_TRIGGER)
    conversation.resolved_at = None
    conversation.assignee_id = None
    assistant_flow.on_reopened(conversation)
    pending = _apply_effect(uow, ctx, emitter, conversation, interaction, columns(conversation))
    if pending is not None:  # a receipt, or an outbound message to match
        await pending
    await emitter.emit(ConversationReopened, conversation, reason=reason)
    await _routed(emitter, conversation, interaction, opened=False)
    await assign_or_queue(
        uow, ctx, emitter, conversation, previous_agent_id=previous_agent, reason="reopened"
    )


async def _joined(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    values: Mapping[str, Any],
    interaction: Interaction,
    reason: str,
) -> None:
    """``values``: ``columns(conversation)`` (a live view)."""
    pending = _apply_effect(uow, ctx, emitter, conversation, interaction, values)
    if pending is not None:  # a receipt, or an outbound message to match
        await pending
    ignored = ignored_reason(status_of(values["status"]), interaction)
    await _routed(emitter, conversation, interaction, opened=False, ignored=ignored, reason=reason)
    if ignored is None and assistant_flow.holds(values) and from_customer(interaction):
        await assistant_flow.request_turn(emitter, conversation, interaction)


def _routed(
    emitter: Emitter,
    conversation: Conversation,
    interaction: Interaction,
    *,
    opened: bool,
    ignored: str | None = None,
    reason: str | None = None,
    unchanged: bool = False,
) -> Coroutine[Any, Any, str]:
    """The InteractionRouted emit, for the caller to await: a plain call handing on
    ``emit``'s coroutine, not a coroutine of its own made and awaited around it."""
    return emitter.emit(
        InteractionRouted,
        conversation,
        reason=reason,
        unchanged=unchanged,
        interaction_id=emitter.cause,
        opened_conversation=opened,
        ignored_reason=ignored,
    )
