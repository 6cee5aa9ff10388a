"""Lookups for one batch of interactions: prefetched in a few set queries, then kept
current in memory as the batch adds contacts, conversations and Message-IDs, so a
batch costs a handful of round trips instead of several per interaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from libs.common.events.interaction import Channel, Interaction
from services.router.domain.contacts import IdentityKey, identity_keys
from services.router.domain.intake import (
    call_group_key,
    own_message_id,
    referenced_ids,
    thread_key,
)
from services.router.service.columns import columns
from services.router.store.lookups import ThreadReads
from services.router.store.models import Conversation
from services.router.store.repositories import CandidateKeys, CandidateRows, PollContacts
from services.router.store.unit_of_work import UnitOfWork

ANY = "*"
#: Channels threaded onto the contact's latest conversation of the channel (``latest``).
RECENT_CHANNELS = (Channel.CHAT, Channel.PHONE)


@dataclass
class RoutingCache:
    owners: dict[IdentityKey, str] = field(default_factory=dict)
    messages: dict[str, list[Conversation]] = field(default_factory=lambda: defaultdict(list))
    by_reference: dict[str, Conversation] = field(default_factory=dict)
    by_thread: dict[tuple[str, str], Conversation] = field(default_factory=dict)
    by_call_group: dict[tuple[str, str], Conversation] = field(default_factory=dict)
    latest: dict[tuple[str, str, str], Conversation] = field(default_factory=dict)
    previous_agents: dict[str, str] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    #: each interaction's identity keys, worked out once per batch (by object identity)
    keys: dict[int, tuple[Interaction, tuple[IdentityKey, ...]]] = field(default_factory=dict)

    def identity_keys(self, interaction: Interaction) -> tuple[IdentityKey, ...]:
        known = self.keys.get(id(interaction))
        if known is not None and known[0] is interaction:
            return known[1]
        keys = identity_keys(interaction.__dict__["customer"])  # field reads (intake.py)
        self.keys[id(interaction)] = (interaction, keys)
        return keys

    def remember_identities(self, contact_id: str, keys: Iterable[IdentityKey]) -> None:
        for key in keys:
            self.owners.setdefault(key, contact_id)

    def remember_message(self, message_id: str, conversation: Conversation) -> bool:
        """False when the Message-ID is already indexed for this conversation."""
        known = self.messages[message_id]
        conversation_id = columns(conversation)["id"]
        for conversation_known in known:  # a loop, not any() over a generator
            if columns(conversation_known)["id"] == conversation_id:
                return False
        known.append(conversation)
        return True

    def remember_conversation(self, conversation: Conversation, values: Mapping[str, Any]) -> None:
        """``values``: ``columns(conversation)``, as the caller has them."""
        self.conversations[values["id"]] = conversation
        self.by_reference[values["reference"]] = conversation
        contact, at = values["contact_id"], values["last_activity_at"]
        # the latest conversation per key kept inline, not by a helper call each (~3 a
        # routed interaction); where it is this one already (a conversation routed
        # again: the interaction joined it), nothing to compare nor set
        thread, call_group = values["thread_key"], values["call_group_key"]
        if thread:
            key = (thread, contact)
            current = self.by_thread.get(key)
            if current is not conversation and (
                current is None or columns(current)["last_activity_at"] <= at
            ):
                self.by_thread[key] = conversation
        if call_group:
            key = (call_group, contact)
            current = self.by_call_group.get(key)
            if current is not conversation and (
                current is None or columns(current)["last_activity_at"] <= at
            ):
                self.by_call_group[key] = conversation
        latest, channel = self.latest, values["channel"]
        on_integration = (contact, channel, values["integration"])
        current = latest.get(on_integration)
        if current is not conversation and (
            current is None or columns(current)["last_activity_at"] <= at
        ):
            latest[on_integration] = conversation
        on_any = (contact, channel, ANY)
        current = latest.get(on_any)
        if current is not conversation and (
            current is None or columns(current)["last_activity_at"] <= at
        ):
            latest[on_any] = conversation
        if values["assignee_id"]:
            self.previous_agents[contact] = values["assignee_id"]

    def message_candidates(
        self, message_ids: Iterable[str], contact_id: str | None
    ) -> dict[str, Conversation]:
        """Per Message-ID the latest conversation (of this contact, unless None)."""
        found = {}
        for message_id in message_ids:
            mine = [
                c
                for c in self.messages.get(message_id, ())
                if contact_id in (None, columns(c)["contact_id"])
            ]
            if mine:  # usually one: no key function called for it
                found[message_id] = mine[0] if len(mine) == 1 else max(mine, key=_last_activity_at)
        return found


def _last_activity_at(conversation: Conversation) -> datetime:
    return columns(conversation)["last_activity_at"]  # type: ignore[no-any-return]


async def prefetch(
    uow: UnitOfWork, interactions: list[Interaction], *, recent_window: timedelta
) -> RoutingCache:
    """The cache of a poll's interactions, read in one hop of its own (on SQLite)."""
    return await plan_prefetch(interactions, recent_window=recent_window).read(uow)


@dataclass
class Prefetch:
    """What a poll's cache is read by, worked out (pure) from its interactions before
    the read: so that on SQLite the read can ride the poll's first hop
    (``InteractionRepository.known_agents_and`` with ``sqlite_read``)."""

    cache: RoutingCache
    keys: set[IdentityKey]
    message_ids: set[str]
    candidate_keys: Callable[[PollContacts], CandidateKeys]

    def sqlite_read(self, uow: UnitOfWork) -> Callable[[ThreadReads], CandidateRows] | None:
        """The read as a function for the database thread; None on PostgreSQL."""
        if uow.postgres:
            return None
        return uow.contacts.candidates_read(self.keys, self.message_ids, self.candidate_keys)

    async def read(self, uow: UnitOfWork) -> RoutingCache:
        """The owners with Message-ID to conversation id as plain strings (no join: the
        conversations come with the other candidates) and the owners' latest assignees,
        then the candidates by what that read: on SQLite one hop to the thread for both."""
        contacts, found = await uow.contacts.owners_messages_and_candidates(
            uow.conversations, self.keys, self.message_ids, self.candidate_keys
        )
        return self.filled(uow, contacts, found)

    def filled(
        self, uow: UnitOfWork, read: PollContacts, found: list[Conversation]
    ) -> RoutingCache:
        """The cache holding what the read found."""
        cache = self.cache
        cache.owners, indexed = read.owners, read.messages
        conversations = {columns(conversation)["id"]: conversation for conversation in found}
        for message_id, conversation_id in indexed:
            cache.remember_message(message_id, conversations[conversation_id])
        for conversation in sorted(conversations.values(), key=_last_activity_at):
            cache.remember_conversation(conversation, columns(conversation))
        cache.previous_agents.update(read.last_assignees)  # the stored latest win
        uow.cache["previous_agents"] = cache.previous_agents
        return cache


def plan_prefetch(interactions: list[Interaction], *, recent_window: timedelta) -> Prefetch:
    """What a poll's cache is read by, in one pass over its interactions (not one
    comprehension per set, each reading the fields again); ``plan_prefetch_by_sets`` is
    the reference ``tests/unit/router/test_plan_prefetch.py`` holds it equal to. Each
    interaction's identity keys are kept in the cache (``RoutingCache.identity_keys``)."""
    cache = RoutingCache()
    known = cache.keys
    keys: set[IdentityKey] = set()
    recent_keys: set[IdentityKey] = set()
    tokens: set[str] = set()
    threads: set[str] = set()
    calls: set[str] = set()
    channels: set[str] = set()
    message_ids: set[str] = set()
    earliest: datetime | None = None
    for interaction in interactions:
        fields = interaction.__dict__  # field reads (intake.py)
        identities = identity_keys(fields["customer"])
        known[id(interaction)] = (interaction, identities)
        keys.update(identities)
        thread = fields["thread"].__dict__
        token = thread["subject_token"]
        if token:
            tokens.add(token)
        # the helpers called only where they find something: most interactions have no
        # provider thread, no call, no Message-ID referenced and no bounce
        if thread["provider_thread_id"]:
            threads.add(thread_key(interaction))  # type: ignore[arg-type]
        if fields["call"] is not None:
            calls.add(call_group_key(interaction))  # type: ignore[arg-type]
        channel = fields["channel"]
        # The contact's latest conversation on the channel only threads chat and phone
        # (mail threads by Message-ID and subject token): mail contacts' rows are not read.
        if channel in RECENT_CHANNELS:
            recent_keys.update(identities)
            channels.add(channel.value)
            occurred_at = fields["occurred_at"]
            if earliest is None or occurred_at < earliest:
                earliest = occurred_at
        if thread["in_reply_to"] or thread["references"] or fields["bounce"]:
            message_ids.update(referenced_ids(interaction))
        if thread["message_id"]:
            own = own_message_id(interaction)
            if own:
                message_ids.add(own)
    since = (datetime.max if earliest is None else earliest) - recent_window

    def candidate_keys(read: PollContacts) -> CandidateKeys:
        """Every way a conversation can be a candidate, those of the Message-IDs included
        (one SELECT: a poll's fixed cost is its statements): pure, it runs between the
        two reads (on SQLite in the database thread)."""
        owners = read.owners
        recent_contacts = {owners[k] for k in recent_keys if k in owners}
        return CandidateKeys(
            ids={conversation_id for _, conversation_id in read.messages},
            references=tokens,
            threads=threads,
            calls=calls,
            recent_contacts=recent_contacts,
            channels=channels,
            since=since if recent_contacts else None,
        )

    return Prefetch(cache, keys, message_ids, candidate_keys)
