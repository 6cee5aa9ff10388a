"""Snapshots and the emitter that puts routing events into the outbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, NamedTuple

from orjson import OPT_UTC_Z, Fragment
from orjson import dumps as _dumps
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from libs.common.constructed import constructed
from libs.common.events.interaction import Channel, CustomerIdentity, Flags, ReplyPath
from libs.common.events.routing import (
    AgentRef,
    ConversationAssigned,
    ConversationOpened,
    ConversationQueued,
    ConversationSnapshot,
    InteractionRouted,
    Priority,
    ResponsePromise,
    RoutingEvent,
)
from services.router.domain.members import channel_of, priority_of
from services.router.service.columns import columns
from services.router.service.context import RouterContext
from services.router.service.pool import POOL_KEY, AssignmentPool, assignment_pool
from services.router.store.event_json import (
    EmittedWriter,
    emitted_writer,
    json_text,
    json_time_text,
)
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import UnitOfWork

MAX_REFERENCES = 20
#: a keyword argument not given (``response_promise_of``)
_UNSET: Any = object()
#: stored values to their enum members by a dict lookup (``Channel(value)`` is ~0.5 µs);
#: a value that is none raises KeyError, as the enum would ValueError
_AGENT_REFS = "agent_refs"
#: ``Emitter._agent_json``'s per transaction: an agent reference's values to its JSON
_AGENT_JSONS = "agent_ref_json"


def agent_ref(agent: Agent | None) -> AgentRef | None:
    if agent is None:
        return None
    return AgentRef(agent_id=agent.id, name=agent.name, email=agent.email, locale=agent.locale)


class Emitter:
    """Builds snapshots and adds events for one cause (interaction, timer, request)."""

    def __init__(
        self,
        uow: UnitOfWork,
        ctx: RouterContext,
        cause: str,
        now: datetime,
        *,
        uses_pool: bool = True,
    ) -> None:
        """``cause`` and ``now`` may be given by position: routing makes an emitter an
        interaction, and a class called with keywords passes them to ``__init__`` in a
        dict made and unpacked (callgrind: 7.0 -> 5.5 K instructions an emitter)."""
        #: False where nothing is assigned: agents are read one by one, not as the pool
        self.uses_pool = uses_pool
        self.uow = uow
        self.ctx = ctx
        self.cause = cause
        self.now = now
        self._parsed: dict[tuple[str, int], tuple[object, object]] = {}
        self._last_snapshot: tuple[tuple[object, ...], ConversationSnapshot] | None = None
        #: the last snapshot written (``_ready_written``): its key, conversation id and JSON
        self._last_written: tuple[tuple[object, ...], tuple[str, str]] | None = None
        #: the conversation of the last event emitted and its snapshot's id and JSON, where
        #: that event was written with ``_ready_written``'s (``emit``'s ``unchanged``)
        self._last_emitted: tuple[Conversation, tuple[str, str]] | None = None
        #: the values every event of this cause shares are of the types the fast events
        #: take (``_BASE_CHECKS``; its snapshots are ConversationSnapshot): checked once here,
        #: not per event
        self._fast_base = type(now) is datetime and now.tzinfo is UTC and type(cause) is str
        #: the text of the members every event of this cause writes after its conversation,
        #: up to its reason (``_writer``), or None where the values are not checked so; the
        #: cause's text by the writers' memo, where its InteractionRouted's
        #: ``interaction_id`` (the cause again) then finds it
        self._shared_json = (
            f',"occurred_at":{json_time_text[now]},"cause_event_id":{json_text[cause]}'
            if self._fast_base
            else None
        )

    async def agent(self, agent_id: str | None) -> Agent | None:
        if agent_id is None:
            return None
        if not self.uses_pool:  # e.g. a reply: no assignment, so no agent loads to read
            return await self.uow.agents.get(agent_id)
        return (await assignment_pool(self.uow)).agents.get(agent_id)

    async def _agents(
        self, first: str | None, second: str | None
    ) -> tuple[Agent | None, Agent | None]:
        later = await self.agent(second)  # in the order snapshots always read them
        return await self.agent(first), later

    def already_parsed(self, raw: dict[str, object] | None, parsed: object) -> None:
        """``raw`` was dumped from ``parsed`` (the interaction's own models): no re-parse."""
        self._parsed[(type(parsed).__name__, id(raw))] = (raw, parsed)

    def _parse(self, model: type, raw: dict[str, object] | None) -> object:
        key = (model.__name__, id(raw))
        cached = self._parsed.get(key)
        if cached is not None and cached[0] is raw:  # the very same stored value
            return cached[1]
        parsed = model.model_validate(raw or {})  # type: ignore[attr-defined]
        self._parsed[key] = (raw, parsed)
        return parsed

    def agent_reference(self, agent: Agent | None) -> AgentRef | None:
        """Built once per agent per transaction (not per cause): a poll names the same
        few agents and supervisors in hundreds of snapshots. Keyed by every value the
        reference holds, so an agent changed within the transaction gets a new one."""
        if agent is None:
            return None
        cache = self.uow.cache
        refs: dict[tuple[object, ...], AgentRef] | None = cache.get(_AGENT_REFS)  # type: ignore[assignment]
        if refs is None:  # the transaction's first (no dict made and dropped a call)
            refs = cache[_AGENT_REFS] = {}
        key = _agent_ref_values(columns(agent))
        ref = refs.get(key)
        if ref is None:
            ref = refs[key] = agent_ref(agent)  # type: ignore[assignment]
        return ref

    def _agent_json(self, agent: Agent) -> Fragment | dict[str, Any]:
        """``agent_reference(agent)``'s JSON as orjson writes it, made once per agent per
        transaction (as the reference: a poll's snapshots name the same few agents and
        supervisors hundreds of times) and handed to orjson as written. Callgrind,
        ``bench.snapshot_callgrind --written``, stop 41: 48.3 -> 46.8 K an interaction."""
        cache = self.uow.cache
        written: dict[tuple[object, ...], Fragment] | None = cache.get(_AGENT_JSONS)  # type: ignore[assignment]
        if written is None:
            written = cache[_AGENT_JSONS] = {}
        key = _agent_ref_values(columns(agent))
        fragment = written.get(key)
        if fragment is None:
            members = self.agent_reference(agent).__dict__  # type: ignore[union-attr]
            try:  # AgentRef's fields are text: event_json.model_writer checks nothing of it
                fragment = written[key] = Fragment(_dumps(members, option=OPT_UTC_Z))
            except TypeError:  # what orjson refuses: the snapshot's dumps refuses it too
                return members
        return fragment

    async def snapshot(self, conversation: Conversation) -> ConversationSnapshot:
        """The conversation as events carry it; one cause often emits several events
        in a row over an unchanged conversation (opened, routed, queued): built once."""
        ready = self._ready_snapshot(conversation)
        if ready is not None:
            return ready
        values = columns(conversation)
        config = self.ctx.config.current
        key = _snapshot_key(values, config)
        queue = config.policies.queue(values["queue"])
        first, second = values["assignee_id"], queue.supervisor if queue else None
        agents = await self._agents(first, second)
        snapshot = self._snapshot_of(values, *agents)
        self._last_snapshot = (key, snapshot)
        return snapshot

    def _ready_snapshot(self, conversation: Conversation) -> ConversationSnapshot | None:
        """``snapshot(conversation)`` where it needs no await, without a coroutine (``emit``
        asks this first: a coroutine made and run an event was ~1.5 K instructions): the
        last one when nothing it is built from changed, else one whose agents are in the
        transaction's pool (every routing snapshot); None otherwise
        (``snapshot`` reads the agents)."""
        values = columns(conversation)
        config = self.ctx.config.current
        key = (  # _snapshot_key's, inline: a call less an event
            config,
            _snapshot_values(values),
            tuple(values["tags"] or ()),
            tuple(values["references"] or ()),
        )
        last = self._last_snapshot
        if last is not None and last[0] == key:
            return last[1]
        # the agents from the transaction's pool, its queue's supervisor looked up inline
        pool = self.uow.cache.get(POOL_KEY) if self.uses_pool else None
        if not isinstance(pool, AssignmentPool):
            return None
        queue = config.policies.queues_by_name.get(values["queue"])
        first, second = values["assignee_id"], queue.supervisor if queue else None
        agents = pool.agents
        snapshot = self._snapshot_of(
            values,
            None if first is None else agents.get(first),
            None if second is None else agents.get(second),
        )
        self._last_snapshot = (key, snapshot)
        return snapshot

    def _ready_written(self, conversation: Conversation) -> tuple[str, str] | None:
        """The conversation's id and its snapshot's JSON as ``OutboxWriter`` writes the
        snapshot, where ``_ready_snapshot`` would give it a snapshot: the last one when
        nothing it is built from changed, else written by ``orjson`` from the
        conversation's values (``_snapshot_data``'s ``written`` members: no
        ``ConversationSnapshot`` put together, no second look at each value by a generated
        writer, ``event_json.model_writer``'s checks); None otherwise (no pool in the
        transaction, or values written otherwise by pydantic-core: ``emit`` then takes the
        snapshot's way, which raises the errors this raises, in the same order).
        Callgrind, ``bench.snapshot_callgrind --written`` (800 snapshots of two warmed polls
        of 400), stop 41: 55.1 -> 49.2 K an interaction (orjson read each enum member's
        ``value`` through its Python property; the members writer looked every nested
        value up again), then ``_agent_json`` and the supervisors' map: 46.8 K."""
        values = columns(conversation)
        config = self.ctx.config.current
        picked = _snapshot_values(values)
        tags, references = tuple(values["tags"] or ()), tuple(values["references"] or ())
        key = (config, picked, tags, references)  # _snapshot_key's, inline
        last = self._last_written
        if last is not None and last[0] == key:
            return last[1]
        pool = self.uow.cache.get(POOL_KEY) if self.uses_pool else None
        if not isinstance(pool, AssignmentPool):
            return None
        supervisors = _queue_supervisors
        if supervisors[0] is not config:
            supervisors = _remember_supervisors(config)
        first, second = values["assignee_id"], supervisors[1].get(values["queue"])
        agents = pool.agents
        # the snapshot's members as orjson writes them as pydantic-core would (nested
        # models as their __dict__s, agents as their JSON, enums as their values' text)
        members = self._snapshot_data(
            picked,
            tags,
            references,
            None if first is None else agents.get(first),
            None if second is None else agents.get(second),
            True,
        )
        about = picked[0]
        if members is None or type(about) is not str:
            return None
        try:
            text = _dumps(members, option=OPT_UTC_Z).decode()
        except TypeError:  # orjson.JSONEncodeError is one: pydantic-core's way
            return None
        written = (about, text)
        self._last_written = (key, written)
        return written

    def _snapshot_of(
        self, values: Mapping[str, Any], assignee: Agent | None, supervisor: Agent | None
    ) -> ConversationSnapshot:
        """The snapshot of ``_snapshot_data``'s values, without validation."""
        tags, references = tuple(values["tags"] or ()), tuple(values["references"] or ())
        data = self._snapshot_data(
            _snapshot_values(values), tags, references, assignee, supervisor, False
        )
        return constructed(ConversationSnapshot, data, set(_SNAPSHOT_FIELDS_SET))  # type: ignore[arg-type]

    def _snapshot_data(
        self,
        picked: tuple[Any, ...],
        tags: tuple[Any, ...],
        references: tuple[Any, ...],
        assignee: Agent | None,
        supervisor: Agent | None,
        written: bool,
    ) -> dict[str, Any] | None:
        """The ``__dict__`` of the conversation's snapshot (``picked``:
        ``_snapshot_values`` of its columns; its tags and references as tuples): its
        stored values as events carry them, made without validation: every value
        comes from the store or from models already validated (the interaction's
        customer, flags and reply path), the types as the snapshot declares them,
        datetimes in UTC as its UtcDatetime fields would make them.
        ``written``: the same for orjson to write (``_ready_written``): enums as
        their values, nested models as their ``__dict__``s, agents as their JSON; None
        where a value is not as that way takes it (the caller takes the other way).

        The parts' lookups are inline where they are dict lookups (the parsed customer,
        flags and reply path, the enum members; an agent's reference only for an
        agent): ~10 Python calls less a snapshot than the helpers' way, stop 36
        (``bench.snapshot_callgrind``: 58.7 -> 50.1 K a snapshot taken;
        ``tests/unit/router/test_event_snapshot.py`` holds it to that way)."""
        (
            conversation_id,
            reference,
            raw_channel,
            status,
            queue,
            raw_priority,
            language,
            subject,
            contact_id,
            raw_customer,
            raw_flags,
            _assignee_id,
            last_message_id,
            due_at,
            raw_reply_path,
            inbound_at,
        ) = picked
        # in the order _snapshot_of's display makes them (the same error first)
        if written:
            channel = _CHANNEL_TEXTS.get(raw_channel)
            priority = _PRIORITY_TEXTS.get(raw_priority)
            if channel is None or priority is None:
                return None  # not a member's value: the other way raises the enum's error
        else:
            channel = _CHANNEL_MEMBERS.get(raw_channel)
            if channel is None:
                channel = channel_of(raw_channel)  # not a member's value: the enum's error
            priority = _PRIORITY_MEMBERS.get(raw_priority)
            if priority is None:
                priority = priority_of(raw_priority)
        parsed = self._parsed
        raw = raw_customer
        known = parsed.get(("CustomerIdentity", id(raw)))
        customer = (
            known[1]
            if known is not None and known[0] is raw
            else self._parse(CustomerIdentity, raw)
        )
        raw = raw_flags
        known = parsed.get(("Flags", id(raw)))
        flags = known[1] if known is not None and known[0] is raw else self._parse(Flags, raw)
        if written:
            assignee_ref = None if assignee is None else self._agent_json(assignee)
            supervisor_ref = None if supervisor is None else self._agent_json(supervisor)
        else:
            assignee_ref = None if assignee is None else self.agent_reference(assignee)
            supervisor_ref = None if supervisor is None else self.agent_reference(supervisor)
        raw = raw_reply_path
        if not raw:
            reply_path = None
        else:
            known = parsed.get(("ReplyPath", id(raw)))
            reply_path = (
                known[1] if known is not None and known[0] is raw else self._parse(ReplyPath, raw)
            )
        if due_at is not None and due_at.tzinfo is not UTC:
            due_at = due_at.astimezone(UTC)
        if inbound_at is not None and inbound_at.tzinfo is not UTC:
            inbound_at = inbound_at.astimezone(UTC)
        if written:  # model_writer's checks, and the nested models as their __dict__s
            if type(customer) is not CustomerIdentity or type(flags) is not Flags:
                return None
            if due_at is not None and (type(due_at) is not datetime or due_at.tzinfo is not UTC):
                return None
            at = inbound_at
            if at is not None and (type(at) is not datetime or at.tzinfo is not UTC):
                return None
            customer, flags = customer.__dict__, flags.__dict__
            if reply_path is not None:
                if type(reply_path) is not ReplyPath:
                    return None
                reply_path = reply_path.__dict__
                for at in (reply_path["reply_token_expires_at"], reply_path["callback_expires_at"]):
                    if at is not None and (type(at) is not datetime or at.tzinfo is not UTC):
                        return None
        return {
            "conversation_id": conversation_id,
            "reference": reference,
            "channel": channel,
            "status": status,
            "queue": queue,
            "priority": priority,
            "language": language,
            "subject": subject,
            "tags": tags if written else list(tags),  # orjson writes a tuple as a list
            "contact_id": contact_id,
            "customer": customer,
            "customer_flags": flags,
            "assignee": assignee_ref,
            "supervisor": supervisor_ref,
            "last_message_id": last_message_id,
            "references": references[-MAX_REFERENCES:]
            if written
            else list(references[-MAX_REFERENCES:]),
            "first_response_due_at": due_at,
            "reply_path": reply_path,
            "customer_last_inbound_at": inbound_at,
        }

    async def emit(
        self,
        event_type: type[RoutingEvent],
        conversation: Conversation,
        *,
        reason: str | None = None,
        unchanged: bool = False,
        **fields: Any,
    ) -> str:
        """Add ``event_type`` over ``conversation`` to the outbox; its id. ``unchanged``:
        the caller's word that ``conversation`` is the one this emitter's last event
        carried and that nothing its snapshot is built from changed since (an
        interaction's ConversationOpened, then its InteractionRouted): that event's
        written snapshot again, its key not worked out (``_ready_written``) where that
        event was written so."""
        last, self._last_emitted = self._last_emitted, None
        shared = self._shared_json
        if shared is not None:
            # the payload written from the call's values and the snapshot's from the
            # conversation's (``_ready_written``): no snapshot nor event put together
            key = (event_type, tuple(fields))
            try:
                write = _WRITERS[key]
            except KeyError:
                write = _writer(key)
            if write is not None:
                written = (
                    last[1]
                    if unchanged and last is not None and last[0] is conversation
                    else self._ready_written(conversation)
                )
                if written is not None:
                    tail = write(shared, reason, fields)
                    if tail is not None:
                        about, snapshot_json = written
                        event_id = self.uow.outbox.add_json(
                            event_type, about, snapshot_json, self.now, tail, cause=self.cause
                        )
                        self._last_emitted = (conversation, written)
                        return event_id
        snapshot = self._ready_snapshot(conversation) or await self.snapshot(conversation)
        if shared is not None and type(snapshot) is ConversationSnapshot:
            # the payload written from the call's values (``_writer``): no dict of them
            key = (event_type, tuple(fields))
            try:
                write = _WRITERS[key]
            except KeyError:
                write = _writer(key)
            if write is not None:
                tail = write(shared, reason, fields)
                if tail is not None:
                    return self.uow.outbox.add_written(
                        event_type, snapshot, self.now, tail, cause=self.cause
                    )
        fast = _FAST_EVENTS.get(event_type) if self._fast_base else None
        if fast is not None:
            # the instance's values, no instance: the outbox writes them as its row
            # (``OutboxWriter.add_values``), and nothing else reads the event
            data = fast.emitted_values(snapshot, self.now, self.cause, reason, fields)
            if data is not None:
                return self.uow.outbox.add_values(event_type, data, cause=self.cause)
        values = {
            "conversation": snapshot,
            "occurred_at": self.now,
            "cause_event_id": self.cause,
            "reason": reason,
            **fields,
        }
        return self.uow.outbox.add(event_type(**values), cause=self.cause)  # type: ignore[arg-type]


def response_promise_of(
    *,
    target_minutes: Any = _UNSET,
    due_at: Any = _UNSET,
    open_now: Any = _UNSET,
    calendar: Any = _UNSET,
    timezone: Any = _UNSET,
    always_open: Any = _UNSET,
    **others: Any,
) -> ResponsePromise:
    """``ResponsePromise(**values)``, without validation when every value is of exactly
    its field's type (one per new conversation; the instance validation makes, its
    fields set those given: ``tests/unit/router/test_fast_events.py``). Its six fields
    checked and put in order here, not by a ``_FastEvent`` plan (the values' dict, its
    names' tuple, the plan's template copied and updated): callgrind, the promises of
    two warmed polls of 400 (480, called by keywords as
    ``domain.intake.response_promise`` calls it), 22.1 -> 10.8 K instructions a promise."""
    if (
        type(target_minutes) is int
        and type(due_at) is datetime
        and due_at.tzinfo is UTC
        and type(open_now) is bool
        and type(calendar) is str
        and type(timezone) is str
        and not others
    ):
        given_always_open = type(always_open) is bool
        if given_always_open or always_open is _UNSET:  # unset: its default, not set
            return constructed(
                ResponsePromise,
                {
                    "target_minutes": target_minutes,
                    "due_at": due_at,
                    "open_now": open_now,
                    "calendar": calendar,
                    "timezone": timezone,
                    "always_open": always_open if given_always_open else _ALWAYS_OPEN_DEFAULT,
                },
                None
                if given_always_open
                else {"target_minutes", "due_at", "open_now", "calendar", "timezone"},
            )
    given = {
        "target_minutes": target_minutes,
        "due_at": due_at,
        "open_now": open_now,
        "calendar": calendar,
        "timezone": timezone,
        "always_open": always_open,
    }
    values = {name: value for name, value in given.items() if value is not _UNSET}
    return ResponsePromise(**values, **others)


class _FastEvent:
    """The routing events of every routed interaction (routed, opened, queued,
    assigned; 2-3 per interaction), built without validation when every value given
    is of exactly a type the field declares (``checks``: a subclass such as an enum
    member for a ``str``, a non-UTC datetime, a field not listed: the validated
    path), with the defaults validation fills in: the instance validation makes
    (``tests/unit/router/test_fast_events.py``), ~0.8 instead of ~3 µs. What depends
    only on the names given is planned once per set of names (``_plan``): 35.8 → 21.5
    thousand instructions per event with ``constructed`` taking a dict (callgrind)."""

    def __init__(
        self,
        model: type[BaseModel],
        checks: Mapping[str, tuple[type, ...]],
        base: Mapping[str, tuple[type, ...]] | None = None,
    ) -> None:
        self.model = model
        self.checks = {**(_BASE_CHECKS if base is None else base), **checks}
        missing = set(self.checks) - set(model.model_fields)
        if missing:
            raise ValueError(f"{model.__name__} has no fields {sorted(missing)}")
        self.fields = [
            (name, info.default, info.default_factory) for name, info in model.model_fields.items()
        ]
        self._plans: dict[tuple[str, ...], _Plan | None] = {}
        self._emitted_plans: dict[tuple[str, ...], _Plan | None] = {}

    def build(self, values: dict[str, Any]) -> BaseModel | None:
        names = tuple(values)
        try:
            plan = self._plans[names]
        except KeyError:
            plan = self._plan(names)
        if plan is None or not _all_allowed(plan.allowed, values.values()):
            return None
        data = plan.template.copy()  # every field, in the model's order
        data.update(values)
        return self._made(plan, data)

    def build_emitted(
        self,
        conversation: ConversationSnapshot,
        occurred_at: datetime,
        cause: str,
        reason: str | None,
        fields: dict[str, Any],
    ) -> BaseModel | None:
        """``build({"conversation": conversation, "occurred_at": occurred_at,
        "cause_event_id": cause, "reason": reason, **fields})``, the same instance or
        None, for an ``Emitter`` whose shared values were checked once
        (``Emitter._fast_base``): only ``reason`` and ``fields`` are checked, and no dict
        of every value is made (callgrind, an InteractionRouted with the dict ``emit``
        made for ``build``: 22.0 → 16.4 K instructions an event)."""
        data = self.emitted_values(conversation, occurred_at, cause, reason, fields)
        if data is None:
            return None
        # the fields set: the shared names and those given (``_emitted_plan``'s ``given``)
        return constructed(self.model, data, {*_SHARED, *fields})

    def emitted_values(
        self,
        conversation: ConversationSnapshot,
        occurred_at: datetime,
        cause: str,
        reason: str | None,
        fields: dict[str, Any],
    ) -> dict[str, Any] | None:
        """The ``__dict__`` of ``build_emitted``'s instance (every field in the model's
        order, the per-event defaults made), or None where it gives None: what
        ``OutboxWriter.add_values`` writes, without the instance put together
        (``constructed`` and its fields-set copy were ~6 K instructions an event)."""
        names = tuple(fields)
        try:
            plan = self._emitted_plans[names]
        except KeyError:
            plan = self._emitted_plan(names)
        if (
            plan is None
            or (reason is not None and type(reason) is not str)
            or not _all_allowed(plan.allowed, fields.values())
        ):
            return None
        data = plan.template.copy()  # every field, in the model's order
        data["conversation"] = conversation
        data["occurred_at"] = occurred_at
        data["cause_event_id"] = cause
        data["reason"] = reason
        data.update(fields)
        # no Python call for the usual event, which has no per-event default to make
        return _defaults_made(plan, data) if plan.factories else data

    def _made(self, plan: _Plan, data: dict[str, Any]) -> BaseModel:
        """The instance of ``data`` (every field, in order), its per-event defaults made."""
        data = _defaults_made(plan, data)
        return constructed(self.model, data, set(plan.given))  # a set's copy: no hashing

    def _emitted_plan(self, names: tuple[str, ...]) -> _Plan | None:
        """``_plan`` of the shared names and then ``names``, with the allowed types of
        ``names`` only; None (validation) when ``names`` repeats a shared one."""
        plan = None
        if _SHARED_SET.isdisjoint(names):
            plan = self._plan((*_SHARED, *names))
            if plan is not None:
                plan = plan._replace(allowed=plan.allowed[len(_SHARED) :])
        if len(self._emitted_plans) < _PLANS_KEPT:
            self._emitted_plans[names] = plan
        return plan

    def _plan(self, names: tuple[str, ...]) -> _Plan | None:
        """What depends only on which fields are given, in the order given (each
        ``emit`` call site gives the same): each value's allowed types, every field
        in the model's order with the defaults of those not given, those made per
        event. None when these names always go the validated way (a field not in
        ``checks``, a required one missing). Kept per set of names (a bounded few)."""
        plan: _Plan | None = None
        allowed = [self.checks.get(name) for name in names]
        template: dict[str, Any] = {}
        factories: list[tuple[str, Any]] = []
        for name, default, factory in self.fields:
            if name in names:
                template[name] = None  # its place in the field order; the value is given
            elif factory is not None:
                template[name] = None
                factories.append((name, factory))
            elif default is PydanticUndefined:
                break  # required and not given: validation says so
            else:
                template[name] = default
        else:
            if None not in allowed:
                plan = _Plan(tuple(allowed), template, tuple(factories), frozenset(names))  # type: ignore[arg-type]
        if len(self._plans) < _PLANS_KEPT:
            self._plans[names] = plan
        return plan


def _defaults_made(plan: _Plan, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the per-event defaults of ``plan`` made (its ``default_factory``s)."""
    for name, factory in plan.factories:
        data[name] = factory()
    return data


def _all_allowed(allowed: tuple[tuple[type, ...], ...], values: Iterable[Any]) -> bool:
    """Each value of one of its allowed types (``_Plan.allowed``, in the same order); a
    datetime only in UTC (``UtcDatetime`` converts others: validation does that)."""
    for kinds, value in zip(allowed, values):  # noqa: B905 - same length
        kind = type(value)
        if kind not in kinds or (kind is datetime and value.tzinfo is not UTC):
            return False
    return True


class _Plan(NamedTuple):
    allowed: tuple[tuple[type, ...], ...]  # per value given, in the order given
    template: dict[str, Any]  # every field in the model's order, defaults filled in
    factories: tuple[tuple[str, Any], ...]  # fields whose default is made per event
    given: frozenset[str]  # the names given: the instance's fields set


#: sets of names a _FastEvent keeps a plan for (a handful of emit call sites)
_PLANS_KEPT = 64
_NONE = type(None)
_BASE_CHECKS: dict[str, tuple[type, ...]] = {
    "conversation": (ConversationSnapshot,),
    "occurred_at": (datetime,),
    "cause_event_id": (str, _NONE),
    "reason": (str, _NONE),
}
#: the names of what every event of an ``Emitter`` carries, in the order ``build`` gets them
_SHARED = ("conversation", "occurred_at", "cause_event_id", "reason")
_SHARED_SET = frozenset(_SHARED)
#: ``response_promise_of`` writes a promise's fields in this order, its last defaulted
if (
    tuple(ResponsePromise.model_fields)
    != (
        "target_minutes",
        "due_at",
        "open_now",
        "calendar",
        "timezone",
        "always_open",
    )
    or ResponsePromise.model_fields["always_open"].is_required()
):
    raise RuntimeError("ResponsePromise's fields changed: update response_promise_of")
_ALWAYS_OPEN_DEFAULT = ResponsePromise.model_fields["always_open"].default
_FAST_EVENTS: dict[type[BaseModel], _FastEvent] = {
    event.model: event
    for event in (
        _FastEvent(
            InteractionRouted,
            {
                "interaction_id": (str,),
                "opened_conversation": (bool,),
                "ignored_reason": (str, _NONE),
            },
        ),
        _FastEvent(
            ConversationOpened,
            {
                "first_response_target_minutes": (int, _NONE),
                "first_response_due_at": (datetime, _NONE),
                "business_hours_note": (str, _NONE),
                "promise": (ResponsePromise, _NONE),
            },
        ),
        _FastEvent(ConversationQueued, {"queue": (str,), "position": (int, _NONE)}),
        _FastEvent(
            ConversationAssigned,
            {"agent": (AgentRef,), "previous_agent": (AgentRef, _NONE), "sticky": (bool,)},
        ),
    )
}


#: per (event type, the names of the fields an ``emit`` gives): the ``_writer`` of its
#: payload after the conversation, or None (the values' way: ``_FastEvent``)
_WRITERS: dict[tuple[type[BaseModel], tuple[str, ...]], EmittedWriter | None] = {}


def _writer(key: tuple[type[BaseModel], tuple[str, ...]]) -> EmittedWriter | None:
    """For the fast events (``_FAST_EVENTS``) and names they take without validation, a
    function ``write(shared, reason, fields)`` to the payload's text after the
    conversation (``Emitter._shared_json``, the reason, the fields given and the
    defaults of the others; the instance ``_FastEvent.emitted_values`` gives, written as
    ``OutboxWriter`` writes it: ``event_json.emitted_writer``), or None when a value is
    not of a type both take. None for other events and names (the general way). Kept
    per key (a bounded few: the ``emit`` call sites)."""
    event_type, names = key
    fast = _FAST_EVENTS.get(event_type)
    write = None
    if fast is not None:
        plan = fast._emitted_plan(names)
        if plan is not None and not plan.factories:
            write = emitted_writer(event_type, ("reason",), names)
    if len(_WRITERS) < _PLANS_KEPT:
        _WRITERS[key] = write
    return write


#: stored values to the snapshot's enum members (``_snapshot_of``: a dict lookup, not
#: a call of ``channel_of`` / ``priority_of``, which fall back to the enum for others)
_CHANNEL_MEMBERS = {member.value: member for member in Channel}
_PRIORITY_MEMBERS = {member.value: member for member in Priority}
#: the fields of a snapshot (``_snapshot_of`` gives every one)
_SNAPSHOT_FIELDS_SET = frozenset(ConversationSnapshot.model_fields)
#: the snapshot's enum fields' stored values to the text orjson is given for them
#: (``_snapshot_data`` written: the member's value, exactly a ``str``)
_CHANNEL_TEXTS = {member.value: str(member.value) for member in Channel}
_PRIORITY_TEXTS = {member.value: str(member.value) for member in Priority}

#: the conversation's columns its snapshot is built from (``_snapshot_data``)
SNAPSHOT_COLUMNS = (
    "id",
    "reference",
    "channel",
    "status",
    "queue",
    "priority",
    "language",
    "subject",
    "contact_id",
    "customer",
    "customer_flags",
    "assignee_id",
    "last_message_id",
    "first_response_due_at",
    "reply_path",
    "customer_last_inbound_at",
)


#: the values of ``SNAPSHOT_COLUMNS`` as one tuple, picked in C (a key per event)
_snapshot_values = itemgetter(*SNAPSHOT_COLUMNS)
#: what an agent reference is built from (``agent_reference``), picked in C
_agent_ref_values = itemgetter("id", "name", "email", "locale")


#: ``Emitter._ready_written``: the config last seen and its queues' supervisors by queue
#: name (``policies.queue(name).supervisor``; a name not a queue's: None), one tuple so
#: that a reader sees a consistent pair
_queue_supervisors: tuple[object, dict[str, str | None]] = (None, {})


def _remember_supervisors(config: Any) -> tuple[object, dict[str, str | None]]:
    """``config``'s supervisors by queue name, kept as ``_queue_supervisors``. Why: a
    snapshot looked its queue's supervisor up through three attributes of pydantic
    models (each through ``BaseModel``'s ``__getattr__`` hook, ~0.6 K instructions)."""
    global _queue_supervisors
    by_name = {name: queue.supervisor for name, queue in config.policies.queues_by_name.items()}
    _queue_supervisors = (config, by_name)
    return _queue_supervisors


def _snapshot_key(values: Mapping[str, Any], config: object) -> tuple[object, ...]:
    """Everything a snapshot is built from (its conversation's ``columns``), compared by value (the
    config by identity). ``Emitter._ready_snapshot`` makes the same inline."""
    return (
        config,
        _snapshot_values(values),
        tuple(values["tags"] or ()),
        tuple(values["references"] or ()),
    )
