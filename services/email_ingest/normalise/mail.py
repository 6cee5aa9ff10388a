"""Raw RFC 5322 bytes → one ``Interaction``, or a quarantine verdict. No I/O.

The result carries the bytes to keep (the raw mail and each attachment) by
sha256; the caller writes them to the blob store before it publishes, so
every sha256 named in an event exists.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from libs.common.events import (
    Attachment,
    Channel,
    CustomerIdentity,
    Direction,
    Interaction,
    InteractionKind,
    RoutingHints,
)
from libs.common.ids import deterministic_id
from services.email_ingest.normalise.body import body_from_parts
from services.email_ingest.normalise.bounce import is_failure, read_bounce
from services.email_ingest.normalise.flags import OwnIdentity, classify
from services.email_ingest.normalise.headers import (
    Address,
    HeaderMap,
    first_address,
    parse_addresses,
    parse_date,
)
from services.email_ingest.normalise.mime import AttachmentPart, collect_parts
from services.email_ingest.normalise.parsing import parse_message
from services.email_ingest.normalise.thread import (
    DEFAULT_SUBJECT_REFERENCE,
    message_id_of,
    thread_hints,
)

DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
#: Subjects longer than this are cut; real ones are a line.
MAX_SUBJECT_CHARS = 998


@dataclass(frozen=True, slots=True)
class MailContext:
    """What the normaliser needs to know about the mailbox the mail came from."""

    mailbox_id: str
    own: OwnIdentity = field(default_factory=OwnIdentity)
    subject_token: re.Pattern[str] = re.compile(DEFAULT_SUBJECT_REFERENCE)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    routing_hints: RoutingHints = field(default_factory=RoutingHints)


@dataclass(frozen=True, slots=True)
class NormalisedMail:
    event_id: str
    interaction: Interaction
    raw_sha256: str
    #: Bytes to store before publishing, by sha256: the raw mail and every attachment.
    blobs: dict[str, bytes]
    #: What the customer wrote (sender, subject, text, attachments), hashed: tells a
    #: second delivery of one mail from a different mail reusing its Message-ID.
    fingerprint: str = ""
    #: Oddities worth an operator's look that did not stop the mail (logged by the pipeline).
    defects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Mail we cannot turn into an event: kept raw, reported, never dropped."""

    reason: str  # empty | oversize | no_sender | unparseable
    detail: str
    raw_sha256: str


def normalise_mail(
    raw: bytes, context: MailContext, *, received_at: datetime
) -> NormalisedMail | Quarantined:
    raw_sha256 = hashlib.sha256(raw).hexdigest()
    if not raw.strip():
        return Quarantined("empty", "the message has no bytes", raw_sha256)
    if len(raw) > context.max_message_bytes:
        detail = f"{len(raw)} bytes > limit {context.max_message_bytes}"
        return Quarantined("oversize", detail, raw_sha256)
    try:
        return _normalise(raw, raw_sha256, context, received_at)
    except _NoSender as exc:
        return Quarantined("no_sender", str(exc), raw_sha256)
    except Exception as exc:  # the verdict for any parser failure: quarantine, not crash
        return Quarantined("unparseable", f"{type(exc).__name__}: {exc}"[:500], raw_sha256)


class _NoSender(ValueError):
    pass


def _normalise(
    raw: bytes, raw_sha256: str, context: MailContext, received_at: datetime
) -> NormalisedMail:
    message = parse_message(raw)
    headers = HeaderMap.of(message, _declared_charset(message))
    subject = (headers.text("subject") or "")[:MAX_SUBJECT_CHARS]
    message_id = message_id_of(headers, raw)
    sender = first_address(headers, "from", "sender", "reply-to") or _salvaged_sender(raw)
    direction, customer = _customer(headers, sender, context.own)
    bounce = read_bounce(message, headers, sender.email if sender else None, subject)
    parts = collect_parts(message, headers.fallback_charset)
    attachments, blobs = _attachments(parts.attachments)
    blobs[raw_sha256] = raw
    interaction = Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration=context.mailbox_id,
        direction=direction,
        kind=InteractionKind.DELIVERY_STATUS if bounce else InteractionKind.MESSAGE,
        occurred_at=parse_date(headers.raw("date")) or received_at,
        received_at=received_at,
        customer=customer,
        thread=thread_hints(
            headers, message_id=message_id, subject=subject, token_pattern=context.subject_token
        ),
        subject=subject or None,
        body=body_from_parts(parts.texts, split=bounce is None),
        attachments=attachments,
        flags=classify(
            headers,
            subject=subject,
            message_id=message_id,
            is_bounce=bounce is not None and is_failure(bounce),
            is_delivery_notice=bounce is not None,
            own=context.own,
        ),
        bounce=bounce,
        routing_hints=context.routing_hints,
        provider_message_id=message_id,
        raw_ref=raw_sha256,
    )
    # The last word on "can this be published": a value no JSON encoder takes
    # would otherwise make the mail a poison message for the mailbox loop.
    interaction.model_dump_json()
    event_id = deterministic_id("email", context.mailbox_id, message_id)
    return NormalisedMail(
        event_id,
        interaction,
        raw_sha256,
        blobs,
        content_fingerprint(interaction),
        _defects(sender),
    )


def _defects(sender: Address | None) -> tuple[str, ...]:
    if sender is not None and sender.encoded_word_in_local_part:
        return (f"encoded word in the local part of the sender {sender.email!r} (kept literal)",)
    return ()


def content_fingerprint(interaction: Interaction) -> str:
    parts = [
        interaction.customer_key,
        interaction.subject or "",
        interaction.body.text,
        interaction.body.quoted or "",
        *(a.sha256 or "" for a in interaction.attachments),
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


def reused_message_id_event_id(mailbox_id: str, message_id: str, fingerprint: str) -> str:
    """The event id of a different mail that reuses an already-seen Message-ID."""
    return deterministic_id("email", mailbox_id, message_id, fingerprint)


def _customer(
    headers: HeaderMap, sender: Address | None, own: OwnIdentity
) -> tuple[Direction, CustomerIdentity]:
    """Inbound: the sender is the customer. Outbound (we sent it): the first recipient not us."""
    if sender is None:
        raise _NoSender("no From, Sender or Reply-To address")
    ours = {a.lower() for a in own.addresses}
    locale = _content_language(headers)
    if sender.email not in ours:
        return Direction.INBOUND, CustomerIdentity(
            email=sender.email, display_name=sender.display_name, locale=locale
        )
    for name in ("to", "cc"):
        for raw in headers.raw_all(name):
            for address in parse_addresses(raw, headers.fallback_charset):
                if address.email not in ours:
                    return Direction.OUTBOUND, CustomerIdentity(
                        email=address.email, display_name=address.display_name
                    )
    raise _NoSender(f"sent by our own {sender.email} to no one outside")


_FROM_LINE = re.compile(rb"^from[ \t]*:[ \t]*([^\r\n]+)", re.IGNORECASE | re.MULTILINE)


def _salvaged_sender(raw: bytes) -> Address | None:
    """A From line the parser did not see as a header (a broken header block,
    obsolete "From  :" syntax): better a customer than a quarantine."""
    match = _FROM_LINE.search(raw, 0, 65_536)
    if match is None:
        return None
    found = parse_addresses(match.group(1).decode("utf-8", "replace"))
    return found[0] if found else None


def sender_in_raw(raw: bytes) -> str | None:
    """Best effort, for mail we could not normalise: the first From address in
    its first 64 KiB, so even a quarantined mail can be found by an erasure."""
    try:
        sender = _salvaged_sender(raw)
    except Exception:  # whatever broke the normaliser may break this too
        return None
    return sender.email if sender else None


def _content_language(headers: HeaderMap) -> str | None:
    value = (headers.raw("content-language") or "").split(",", 1)[0].strip()
    return value if re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", value) else None


def _declared_charset(message: Message) -> str | None:
    """The first declared body charset: our best guess for raw 8-bit headers."""
    for part in message.walk():
        charset = part.get_content_charset(None)
        if charset:
            return charset
    return None


def _attachments(parts: list[AttachmentPart]) -> tuple[list[Attachment], dict[str, bytes]]:
    attachments: list[Attachment] = []
    blobs: dict[str, bytes] = {}
    for part in parts:
        digest = hashlib.sha256(part.data).hexdigest()
        blobs[digest] = part.data
        attachments.append(
            Attachment(
                name=part.name,
                content_type=part.content_type,
                size=len(part.data),
                sha256=digest,
                inline=part.inline,
                content_id=part.content_id,
            )
        )
    return attachments, blobs
