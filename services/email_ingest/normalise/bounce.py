"""Delivery-status bounces: who could not be reached, and which mail bounced.

Standard DSNs (RFC 3464) are ``multipart/report; report-type=delivery-status``
with a machine-readable ``message/delivery-status`` part and the original
message (or its headers) attached. Older MTAs send plain-text bounces from
``MAILER-DAEMON``; we recognise those by sender and subject and read what
they offer (``X-Failed-Recipients``, an attached message).
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from libs.common.events import BounceInfo
from services.email_ingest.normalise.headers import HeaderMap, parse_message_ids, text_of, unfold

_BOUNCE_SENDERS = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|delivery (?:has )?failed|mail delivery failed|"
    r"returned mail|failure notice|delivery failure|non-?delivery|전송\s*실패|반송",
    re.IGNORECASE,
)
_ADDRESS_IN_FIELD = re.compile(r"<?([^\s<>;]+@[^\s<>;]+)>?\s*$")


#: DSN actions (RFC 3464 §2.3.3) that report a failure; "delayed", "delivered",
#: "relayed" and "expanded" are notices about mail still on its way or arrived.
_FAILED_ACTIONS = {"failed"}


def is_failure(report: BounceInfo) -> bool:
    """A bounce proper: delivery failed. A delay notice (``Action: delayed``,
    status 4.x.x) is automatic mail about the original, not a bounce."""
    if report.action is not None:
        return report.action in _FAILED_ACTIONS
    return not (report.status or "").startswith(("2.", "4."))


def read_bounce(
    message: Message, headers: HeaderMap, sender: str | None, subject: str
) -> BounceInfo | None:
    if message.get_content_type() == "multipart/report":
        report_type = (message.get_param("report-type") or "delivery-status").lower()
        if report_type == "delivery-status":
            return _from_report(message)
        return None
    if sender and _BOUNCE_SENDERS.match(sender) and _BOUNCE_SUBJECT.search(subject or ""):
        return _from_plain_bounce(message, headers)
    return None


def _from_report(message: Message) -> BounceInfo:
    """Recipients with a failed action, and the status of the first. A report
    where none failed (a delay notice) lists no failed recipient but keeps its
    action, status and the original Message-ID: it is linked, not a bounce."""
    blocks = [(block, _recipient(block)) for block in _status_blocks(message)]
    blocks = [(block, recipient) for block, recipient in blocks if recipient is not None]
    failed = [
        (block, recipient)
        for block, recipient in blocks
        if (_field(block, "action") or "failed").lower() in _FAILED_ACTIONS
    ]
    chosen = failed or blocks
    recipients = [recipient for _, recipient in failed]
    status = action = diagnostic = None
    for block, _ in chosen:
        status = status or _field(block, "status")
        action = action or _field(block, "action")
        diagnostic = diagnostic or _field(block, "diagnostic-code")
    return BounceInfo(
        failed_recipients=list(dict.fromkeys(recipients)),
        original_message_id=_original_message_id(message),
        status=status,
        action=action.lower() if action else None,
        diagnostic=diagnostic[:1000] if diagnostic else None,
    )


def _from_plain_bounce(message: Message, headers: HeaderMap) -> BounceInfo:
    failed = [
        address.strip().lower()
        for raw in headers.raw_all("x-failed-recipients")
        for address in raw.split(",")
        if "@" in address
    ]
    return BounceInfo(failed_recipients=failed, original_message_id=_original_message_id(message))


def _status_blocks(message: Message) -> list[Message]:
    blocks: list[Message] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            blocks.extend(b for b in payload if isinstance(b, Message))
        elif isinstance(payload, str):  # not parsed into blocks: parse the text ourselves
            blocks.extend(_parse_blocks(payload))
    return blocks


def _parse_blocks(text: str) -> list[Message]:
    parser = HeaderParser(policy=compat32)
    chunks = re.split(r"\r?\n\s*\r?\n", text)
    return [parser.parsestr(chunk.strip() + "\n") for chunk in chunks if chunk.strip()]


def _field(block: Message, name: str) -> str | None:
    for key, value in block.raw_items():
        if key.lower() == name:
            text = text_of(unfold(str(value)))
            return text or None
    return None


def _recipient(block: Message) -> str | None:
    """``rfc822; user@example.com`` → ``user@example.com``."""
    value = _field(block, "final-recipient") or _field(block, "original-recipient")
    if not value:
        return None
    address = value.split(";", 1)[-1].strip()
    match = _ADDRESS_IN_FIELD.search(address)
    return match.group(1).lower() if match else None


def _original_message_id(message: Message) -> str | None:
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload(0) if part.is_multipart() else None
            if isinstance(inner, Message):
                ids = parse_message_ids(_first_raw(inner, "message-id"))
                if ids:
                    return ids[0]
        elif content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            payload = part.get_payload(decode=True) or b""
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            parsed = HeaderParser(policy=compat32).parsestr(text)
            ids = parse_message_ids(_first_raw(parsed, "message-id"))
            if ids:
                return ids[0]
    return None


def _first_raw(message: Message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name:
            return text_of(unfold(str(value)))
    return None
