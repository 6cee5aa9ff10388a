"""Thread hints: what the router needs to put this mail in a conversation."""

from __future__ import annotations

import hashlib
import re

from libs.common.events import ThreadHints
from services.email_ingest.normalise.headers import HeaderMap, parse_message_ids

#: Our subject token as the notifier writes it: "[#C-1234] Your withdrawal".
DEFAULT_SUBJECT_REFERENCE = r"\[#([A-Z]{1,5}-\d{1,12})\]"
#: Domain of Message-IDs we make up for mail that has none (RFC 2606 reserves .invalid).
GENERATED_ID_DOMAIN = "generated.omnidesk.invalid"


def generated_message_id(raw: bytes) -> str:
    """A stable Message-ID for mail without one: the same bytes, the same id."""
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@{GENERATED_ID_DOMAIN}"


def message_id_of(headers: HeaderMap, raw: bytes) -> str:
    ids = parse_message_ids(headers.raw("message-id"))
    return ids[0] if ids else generated_message_id(raw)


def subject_token(subject: str | None, pattern: re.Pattern[str]) -> str | None:
    if not subject:
        return None
    match = pattern.search(subject)
    return match.group(1) if match else None


def thread_hints(
    headers: HeaderMap, *, message_id: str, subject: str | None, token_pattern: re.Pattern[str]
) -> ThreadHints:
    return ThreadHints(
        message_id=message_id,
        in_reply_to=parse_message_ids(headers.raw("in-reply-to")),
        references=parse_message_ids(" ".join(headers.raw_all("references"))),
        subject_token=subject_token(subject, token_pattern),
    )
