"""Erasure of one contact's personal data in the router (issue #18).

What stays is what reports need: conversations with their counts, timings,
SLA figures, statuses and queues, interactions with their kinds and times,
replies with their delivery states, CSAT scores. What goes is everything that
names or quotes the customer: identities, the display name, subjects,
message and reply text, authors, Message-IDs and threading keys (they carry
addresses), the reply path, provider message ids (a WhatsApp ``wamid`` encodes
the phone number), CSAT comments and the published events kept in the outbox.

The contact's rows move to a new contact named by the tombstone: its old id
is a UUIDv5 of the customer's identifiers, so keeping it would keep a value
anyone holding the e-mail address can recompute, and a customer who writes
again after being forgotten must start as a new contact under that id.

The ``ContactErased`` event goes into the outbox in the same transaction, so
the database change and the request to every other store are one fact; the
relay publishes it to ``support.privacy.v1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update

from libs.common.blobstore import BlobStore
from libs.common.events.privacy import ContactErased
from libs.common.privacy.erasure import StoreReport, erasure_event_id, erasure_key, erasure_request
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from services.router.service.agents import NotFound
from services.router.service.attachments import delete_blobs, unshared_blobs
from services.router.service.audit import AuditEntry, record_audit
from services.router.service.context import RouterContext
from services.router.store.models import (
    AttachmentRow,
    Contact,
    ContactIdentity,
    Conversation,
    CsatRating,
    ErasedContact,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    Reply,
    ReplyReport,
)
from services.router.store.outbox import published, unpublished
from services.router.store.unit_of_work import UnitOfWork


class ErasureUnavailable(RuntimeError):
    """No PRIVACY_HASH_KEY: the request to the other stores could not be made."""


@dataclass(slots=True)
class ContactErasure:
    request: ContactErased
    already: bool = False  # erased by an earlier request: nothing done now
    stores: list[StoreReport] = field(default_factory=list)

    @property
    def erased(self) -> int:
        return sum(report.erased for report in self.stores)


def tombstone_contact_id(tombstone_id: str) -> str:
    """The id of the contact that replaces an erased one (the tombstone's uuid)."""
    return tombstone_id.removeprefix("tomb_")


async def resolve_contact(ctx: RouterContext, kind: IdentifierKind, value: str) -> str | None:
    """The contact owning an identifier (already normalised as the router stores it)."""
    async with ctx.uow.reader() as uow:
        row = await uow.session.get(ContactIdentity, (kind.value, value))
        return row.contact_id if row is not None else None


async def erase_contact(
    ctx: RouterContext, contact_id: str, *, requested_by: str, audit: AuditEntry | None = None
) -> ContactErasure:
    hasher = ctx.privacy
    if hasher is None:
        raise ErasureUnavailable(
            "PRIVACY_HASH_KEY is not set in the router: it cannot ask the other stores to erase"
        )
    now = ctx.clock()
    async with ctx.uow() as uow:
        done = await uow.session.get(ErasedContact, contact_id)
        if done is not None:
            request = _repeat_request(hasher, contact_id, requested_by, done)
            return ContactErasure(request, already=True)
        contact = await uow.contacts.get(contact_id)
        if contact is None or contact.tombstone_id is not None:
            raise NotFound(f"contact {contact_id} not found")
        identities = await uow.contacts.identities(contact_id)
        request = erasure_request(
            hasher,
            identifiers=[(IdentifierKind(i.kind), i.value) for i in identities],
            contact_id=contact_id,
            requested_by=requested_by,
            erased_at=now,
        )
        result = ContactErasure(request)
        result.stores = await _scrub(uow, contact, identities, request, ctx.blob_stores)
        _enqueue_event(uow, request)
        if audit is not None:
            record_audit(uow, audit.with_result(after={"tombstone_id": request.tombstone_id}))
        await uow.commit()
    return result


def _repeat_request(
    hasher: IdentifierHasher, contact_id: str, requested_by: str, done: ErasedContact
) -> ContactErased:
    """What the first erasure published, minus the hashes (the identities are gone)."""
    return ContactErased(
        tombstone_id=done.tombstone_id,
        contact_id=contact_id,
        erased_at=done.erased_at,
        requested_by=requested_by,
        hash_key_id=hasher.key_id,
    )


async def _scrub(
    uow: UnitOfWork,
    contact: Contact,
    identities: list[ContactIdentity],
    request: ContactErased,
    stores: tuple[BlobStore, ...],
) -> list[StoreReport]:
    session = uow.session
    old_id, new_id = contact.id, tombstone_contact_id(request.tombstone_id)
    now = request.erased_at
    conversation_ids = list(
        await session.scalars(select(Conversation.id).where(Conversation.contact_id == old_id))
    )
    reply_ids = list(
        await session.scalars(select(Reply.id).where(Reply.conversation_id.in_(conversation_ids)))
    )
    reports: list[StoreReport] = []

    # The tombstone contact first: the moved rows point at it.
    session.add(
        Contact(
            id=new_id,
            display_name=None,
            locale=contact.locale,
            created_at=contact.created_at,
            tombstone_id=request.tombstone_id,
            erased_at=now,
        )
    )
    session.add(ErasedContact(contact_id=old_id, tombstone_id=request.tombstone_id, erased_at=now))
    await session.flush()

    conversations = await session.execute(
        update(Conversation)
        .where(Conversation.id.in_(conversation_ids))
        .values(
            contact_id=new_id,
            subject=None,
            customer={},
            customer_flags={},
            last_message_id=None,
            references=[],
            thread_key=None,
            call_group_key=None,
            reply_path=None,
            assistant_question=None,  # the customer's words the assistant could not answer
            text_purged_at=now,
        )
    )
    reports.append(
        StoreReport("router.conversations", len(conversation_ids), conversations.rowcount)
    )
    reports.append(
        await _deleted(
            uow, MessageIndex, MessageIndex.conversation_id.in_(conversation_ids), "message_ids"
        )
    )
    # Attachment bytes only this contact's conversations reference: deleted before
    # the commit (a failure leaves the whole request to be asked again, never rows
    # claiming files that are gone). Shared bytes (a logo in bob's mail too) stay;
    # email_ingest erases its own raw mail on the event.
    digests = await unshared_blobs(uow, conversation_ids)
    if stores:
        removed = await delete_blobs(stores, digests)
        reports.append(StoreReport("router.blobs", len(digests), removed, unit="files"))
    reports.append(
        await _deleted(
            uow, AttachmentRow, AttachmentRow.conversation_id.in_(conversation_ids), "attachments"
        )
    )
    interactions = await session.execute(
        update(InteractionRecord)
        .where(InteractionRecord.conversation_id.in_(conversation_ids))
        .values(contact_id=new_id, text="", subject=None, author=None, message_id=None, note=None)
    )
    reports.append(StoreReport("router.interactions", interactions.rowcount, interactions.rowcount))
    replies = await session.execute(
        update(Reply)
        .where(Reply.id.in_(reply_ids))
        .values(text="", provider_message_id=None, error_detail=None)
    )
    reports.append(StoreReport("router.replies", len(reply_ids), replies.rowcount))
    reports.append(
        await _deleted(uow, ReplyReport, ReplyReport.reply_id.in_(reply_ids), "reply_reports")
    )
    ratings = await session.execute(
        update(CsatRating)
        .where(CsatRating.conversation_id.in_(conversation_ids), CsatRating.comment.is_not(None))
        .values(comment=None)
    )
    rated = await _count(uow, CsatRating, CsatRating.conversation_id.in_(conversation_ids))
    reports.append(StoreReport("router.csat_ratings", rated, ratings.rowcount))
    # Published events carry the customer in full. Unsent ones are still owed to
    # their consumers: they go at the retention run after they are sent.
    outbox = await _deleted(
        uow,
        OutboxRow,
        OutboxRow.conversation_id.in_(conversation_ids) & published(),
        "outbox",
    )
    unsent = await _count(
        uow,
        OutboxRow,
        OutboxRow.conversation_id.in_(conversation_ids) & unpublished(),
    )
    note = f"{unsent} unsent kept until published, then purged by retention" if unsent else ""
    reports.append(StoreReport(outbox.store, outbox.checked + unsent, outbox.erased, note=note))
    await session.execute(delete(ContactIdentity).where(ContactIdentity.contact_id == old_id))
    reports.append(StoreReport("router.contact_identities", len(identities), len(identities)))
    await session.execute(delete(Contact).where(Contact.id == old_id))
    reports.append(StoreReport("router.contacts", 1, 1, note=f"now {new_id}"))
    return reports


async def _count(uow: UnitOfWork, model: type, condition: object) -> int:
    query = select(func.count()).select_from(model).where(condition)  # type: ignore[arg-type]
    return int(await uow.session.scalar(query) or 0)


async def _deleted(uow: UnitOfWork, model: type, condition: object, table: str) -> StoreReport:
    result = await uow.session.execute(delete(model).where(condition))  # type: ignore[arg-type]
    return StoreReport(f"router.{table}", result.rowcount, result.rowcount)


def _enqueue_event(uow: UnitOfWork, request: ContactErased) -> None:
    uow.outbox.added.append(erasure_event_id(request))  # wakes the relay on commit
    uow.insert_later(
        OutboxRow,
        {
            "event_id": erasure_event_id(request),
            "ce_type": ContactErased.ce_type,
            "conversation_id": erasure_key(request),  # the record key on the topic
            "occurred_at": request.erased_at,
            "payload": request.model_dump_json(),
        },
    )
