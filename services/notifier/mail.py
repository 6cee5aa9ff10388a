"""Outgoing messages: pure construction of RFC 5322 mail, no I/O.

- Written as bytes by :mod:`services.notifier.wire` (CRLF line ends, RFC 2047
  encoded-words for non-ASCII subjects and names, UTF-8 bodies in base64 or
  quoted-printable so any relay carries them); a mail with non-ASCII in a
  structured header falls back to ``email.message.EmailMessage`` with
  ``policy.SMTP``. ``OutgoingMail.message`` parses the bytes back, for tests
  and tools.
- Every value that goes into a header passes :func:`header_safe` (CR, LF and
  other control characters become spaces): no header injection from data.
- Message-IDs are ours (``<omnidesk.C-1234.<digest>@our.domain>``) and
  deterministic per (event, recipient, template): a resend after a crash
  carries the same id, so receivers that dedupe by Message-ID collapse it.
- Customer mail threads into the customer's own thread (In-Reply-To their
  last message, References their chain) and also references our
  conversation id, so replies come back carrying the conversation token.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime

from libs.common.records import slot_constructor
from services.notifier import wire
from services.notifier.rendering import Rendered

#: References headers grow with every reply; keep the first and the most recent ids.
MAX_REFERENCES = 20

_LINE_LIMIT = 78
_SUBJECT_CHUNK_BYTES = 39  # 52 base64 chars: "Subject: " + word stays under 78
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9-]")
#: local@domain, both dot-atoms of ASCII atext (RFC 5322 §3.2.3), nothing around them.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*")


class InvalidAddress(ValueError):
    """A recipient address that no SMTP server will accept."""


@dataclass(frozen=True, slots=True)
class MailIdentity:
    from_address: str
    from_name: str
    domain: str


@dataclass(frozen=True, slots=True)
class Threading:
    in_reply_to: str | None
    references: list[str]


@dataclass(frozen=True, slots=True)
class MailMeta:
    """What identifies one outgoing mail, besides its rendered content."""

    event_id: str
    reference: str
    template: str
    locale: str
    recipient: str
    recipient_name: str | None
    auto_submitted: str | None
    threading: Threading
    date: datetime
    sender_name: str | None = None  # e.g. the agent who wrote a reply; default: our name


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    sender: str
    recipient: str
    message_id: str
    raw: bytes  # written once (CRLF, 7-bit): retries and pooled sends reuse it
    #: ``raw`` ends every line in CRLF by construction (:func:`wire.serialise`), so the
    #: SMTP client sends it as it is; False: it checks, and rewrites what does not.
    crlf_lines: bool = False

    @property
    def message(self) -> EmailMessage:
        """The mail as a receiver parses it (tests, previews; not on the send path)."""
        parsed = BytesParser(policy=policy.SMTP).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


# Built once or more a mail, without their generated __init__ (records.py).
_threading = slot_constructor(Threading)
_outgoing_mail = slot_constructor(OutgoingMail)


def header_safe(value: str) -> str:
    """Remove CR, LF and other control characters; collapse the gaps."""
    # A printable string has no control character and no whitespace but " " (Python's
    # non-printables are Unicode's Other and Separator but the ASCII space: every
    # character ``split()`` breaks at is one of those). So a Korean name or subject
    # passes as it is too, not only ASCII: each mail's agent name and subject went
    # through the regex, split and join (~1.5 µs each).
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value  # nothing to remove or collapse: most values (ids, addresses)
    return " ".join(_CONTROL.sub(" ", value).split())


def date_header(value: datetime) -> bytes:
    """``Date: Sat, 28 Nov 2026 23:40:00 +0000``: formatted once per second and zone
    (``format_datetime`` cost ~5 µs per mail; a backlog writes hundreds a second).

    Remembered by the fields it is written from — the wall-clock second, ``fold`` and the
    zone object, which give the UTC offset — not by the datetime itself: an aware
    datetime's hash works out its offset and the instant (with the ``replace`` dropping
    the microseconds, ~1.3 µs of the ~1.8 a mail's header took)."""
    key = (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.fold,
        value.tzinfo,
    )
    header = _DATE_HEADERS.get(key)
    if header is None:
        if len(_DATE_HEADERS) >= 64:
            _DATE_HEADERS.clear()
        header = _DATE_HEADERS[key] = wire.header(
            "Date", format_datetime(value.replace(microsecond=0)).split()
        )
    return header


_DATE_HEADERS: dict[tuple[object, ...], bytes] = {}


def conversation_token(reference: str) -> str:
    # A reference is nearly always "C-1234": ASCII letters, digits and "-" already, so
    # nothing to remove (the regex's sub was ~1 µs, twice a mail: Message-ID, References).
    if reference.isascii() and reference.replace("-", "").isalnum():
        return reference
    return _TOKEN_UNSAFE.sub("", reference) or "conversation"


def message_id_for(meta: MailMeta, domain: str) -> str:
    key = f"{meta.event_id}\x1f{meta.recipient.lower()}\x1f{meta.template}".encode()
    digest = hashlib.sha256(key).hexdigest()[:24]
    return f"<omnidesk.{conversation_token(meta.reference)}.{digest}@{domain}>"


def conversation_thread_id(reference: str, domain: str) -> str:
    """A stable id per conversation: every mail of it references this."""
    return f"<omnidesk.{conversation_token(reference)}@{domain}>"


def angle_id(message_id: str) -> str:
    """``abc@x`` or ``<abc@x>`` → ``<abc@x>`` (event models carry ids without brackets)."""
    bare = header_safe(message_id).strip().strip("<>").strip()
    return f"<{bare}>"


def subject_with_token(subject: str, reference: str) -> str:
    token = f"[#{header_safe(reference)}]"
    clean = header_safe(subject)
    return clean if token in clean else f"{token} {clean}".strip()


def customer_threading(
    *, reference: str, domain: str, parent: str | None, chain: list[str]
) -> Threading:
    ids = [conversation_thread_id(reference, domain), *(angle_id(m) for m in chain if m.strip())]
    parent_id = angle_id(parent) if parent and parent.strip() else None
    if parent_id:
        ids.append(parent_id)
    return _threading(parent_id, _trim(_unique(ids)))


def staff_threading(*, reference: str, domain: str) -> Threading:
    return _threading(None, [conversation_thread_id(reference, domain)])


def build_mail(identity: MailIdentity, meta: MailMeta, rendered: Rendered) -> OutgoingMail:
    message_id = message_id_for(meta, identity.domain)
    # Validated as before (Address), whichever way the mail is then written.
    _check_address(meta.sender_name or identity.from_name, identity.from_address)
    _check_address(meta.recipient_name, meta.recipient)
    try:
        raw = _written(identity, meta, rendered, message_id)
    except wire.NotWireSafe:
        raw = _with_email_package(identity, meta, rendered, message_id)
        return _outgoing_mail(identity.from_address, meta.recipient, message_id, raw, False)
    return _outgoing_mail(identity.from_address, meta.recipient, message_id, raw, True)


def _written(identity: MailIdentity, meta: MailMeta, rendered: Rendered, message_id: str) -> bytes:
    """The usual mail, written directly (see :mod:`services.notifier.wire`)."""
    headers = [
        _identity_header("From", meta.sender_name or identity.from_name, identity.from_address),
        _recipient_header(meta.recipient_name or "", meta.recipient),
        _identity_header("Reply-To", identity.from_name, identity.from_address),
        wire.raw_header(
            "Subject", encode_subject(subject_with_token(rendered.subject, meta.reference))
        ),
        date_header(meta.date),
        wire.header("Message-ID", [message_id]),
    ]
    if meta.threading.in_reply_to:
        headers.append(wire.header("In-Reply-To", [meta.threading.in_reply_to]))
    if meta.threading.references:
        headers.append(wire.header("References", meta.threading.references))
    if meta.auto_submitted is not None:
        headers.append(_automation_headers(meta.auto_submitted))
    headers.append(wire.header("X-Omnidesk-Conversation", [header_safe(meta.reference)]))
    headers.append(_template_header(meta.template))
    body = wire.Body(rendered.text, rendered.html)
    return wire.serialise(headers, body, seed=message_id, language=header_safe(meta.locale))


# Headers whose values are one of a few (a template's name, "auto-replied"): written
# once each, as the identity headers below (~1 µs a header per mail otherwise).
@functools.lru_cache(maxsize=256)
def _automation_headers(auto_submitted: str) -> bytes:
    return wire.header("Auto-Submitted", [header_safe(auto_submitted)]) + wire.header(
        "X-Auto-Response-Suppress", ["All"]
    )


@functools.lru_cache(maxsize=256)
def _template_header(template: str) -> bytes:
    return wire.header("X-Omnidesk-Template", [header_safe(template)])


@functools.lru_cache(maxsize=1024)
def _recipient_header(name: str, address: str) -> bytes:
    """``To``: an agent's notices go to the same few agents all day (a Korean name is
    encoded-words, a Python loop, to write); a customer's mostly pass through."""
    return wire.header("To", wire.address(header_safe(name), address))


@functools.lru_cache(maxsize=256)
def _identity_header(field: str, name: str, address: str) -> bytes:
    """``From`` / ``Reply-To``: our name (or an agent's, "이서연 (Support)") at our address —
    the same few in every mail, so written once each (a Korean name is an encoded-word)."""
    return wire.header(field, wire.address(header_safe(name), header_safe(address)))


def _with_email_package(
    identity: MailIdentity, meta: MailMeta, rendered: Rendered, message_id: str
) -> bytes:
    """Mails with non-ASCII in a structured header (an internationalised address)."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _address(meta.sender_name or identity.from_name, identity.from_address)
    message["To"] = _address(meta.recipient_name, meta.recipient)
    message["Reply-To"] = _address(identity.from_name, identity.from_address)
    _set_subject(message, subject_with_token(rendered.subject, meta.reference))
    message["Date"] = format_datetime(meta.date)
    message["Message-ID"] = message_id
    _set_threading(message, meta.threading)
    _set_automation(message, meta.auto_submitted)
    message["X-Omnidesk-Conversation"] = header_safe(meta.reference)
    message["X-Omnidesk-Template"] = header_safe(meta.template)
    _set_body(message, rendered)  # clears Content-* headers, so those come after
    message["Content-Language"] = header_safe(meta.locale)
    return message.as_bytes()


def encode_subject(subject: str) -> str:
    """The Subject value, folded by us into lines the policy emits verbatim.

    Plain ASCII is folded at spaces. Anything else becomes RFC 2047
    encoded-words that keep every space *inside* a word: the standard folder
    can drop a space between two encoded-words ("나요? (출금" → "나요?(출금")
    or fold right after "Subject:", which decoders read as a leading space.
    """
    if subject.isascii() and "=?" not in subject:
        folded = _fold_ascii(subject)
        if folded is not None:
            return folded
    return "\n ".join(wire.encoded_words(subject, _SUBJECT_CHUNK_BYTES))


def _fold_ascii(subject: str) -> str | None:
    """Lines of at most 78 characters, broken at spaces; None if a word is too long."""
    lines: list[str] = []
    current, budget = "", _LINE_LIMIT - len("Subject: ")
    for word in subject.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= budget:
            current = candidate
            continue
        if not current or len(word) > _LINE_LIMIT - 1:
            return None
        lines.append(current)
        current, budget = word, _LINE_LIMIT - 1  # continuation lines start with a space
    lines.append(current)
    return "\n ".join(lines)


def _set_subject(message: EmailMessage, subject: str) -> None:
    # set_raw: already encoded and folded by us; the policy emits short lines verbatim.
    message.set_raw("Subject", encode_subject(subject))


def _set_threading(message: EmailMessage, threading: Threading) -> None:
    if threading.in_reply_to:
        message["In-Reply-To"] = threading.in_reply_to
    if threading.references:
        message["References"] = " ".join(threading.references)


def _set_automation(message: EmailMessage, auto_submitted: str | None) -> None:
    if auto_submitted is None:
        return
    message["Auto-Submitted"] = header_safe(auto_submitted)
    # Exchange/Outlook: do not answer this with out-of-office or read receipts.
    message["X-Auto-Response-Suppress"] = "All"


def _set_body(message: EmailMessage, rendered: Rendered) -> None:
    cte = wire.transfer_encoding
    message.set_content(rendered.text, charset="utf-8", cte=cte(rendered.text))
    if rendered.html is not None:
        message.add_alternative(
            rendered.html, subtype="html", charset="utf-8", cte=cte(rendered.html)
        )


def _address(name: str | None, addr_spec: str) -> Address:
    clean = header_safe(addr_spec)
    if clean != addr_spec.strip() or "@" not in clean:
        raise InvalidAddress(f"invalid address {addr_spec!r}")
    try:
        return Address(display_name=header_safe(name or ""), addr_spec=clean)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise InvalidAddress(f"invalid address {addr_spec!r}: {exc}") from None


def _check_address(name: str | None, addr_spec: str) -> None:
    """:func:`_address` as a check. An address that is a plain dot-atom on both sides
    of the "@" (RFC 5322 §3.4.1 / §3.2.3: what nearly every address is) is one
    ``Address`` accepts whatever the display name — checked by a regex instead of the
    email package's parser (~40 µs: in a backlog every customer is new, so the cache
    below rarely hits for them). Anything else is parsed, and remembered: agents and
    our own address recur in every poll."""
    if _DOT_ATOM_ADDRESS.fullmatch(addr_spec) is None:
        _parsed_address_check(name, addr_spec)


@functools.lru_cache(maxsize=4096)
def _parsed_address_check(name: str | None, addr_spec: str) -> None:
    _address(name, addr_spec)


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _trim(ids: list[str]) -> list[str]:
    if len(ids) <= MAX_REFERENCES:
        return ids
    return [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
