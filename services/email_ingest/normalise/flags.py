"""Classification flags: auto-replies, out-of-office, bulk, lists, loops, spam.

The router never starts an SLA clock for automated mail and the notifier
never answers it (RFC 3834 §2): replying to an auto-reply is how mail loops
start. Signals, in order of trust: ``Auto-Submitted`` (RFC 3834), vendor
headers (``X-Autoreply``, ``X-Autorespond``, Exchange's
``X-Auto-Response-Suppress``), ``Precedence``, list headers (RFC 2369/2919),
and last the subject wording of out-of-office replies.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from libs.common.events import Flags
from services.email_ingest.normalise.headers import HeaderMap

_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?reply|autoreply|"
    r"auto:|abwesenheitsnotiz|r[ée]ponse automatique|자동\s*회신|자동\s*응답|부재\s*중|부재중|"
    r"휴가\s*중|不在|自動応答)",
    re.IGNORECASE,
)
_LIST_HEADERS = ("list-id", "list-post", "list-help", "list-subscribe", "mailing-list")


@dataclass(frozen=True, slots=True)
class OwnIdentity:
    """Who "we" are: our outgoing Message-ID domains and our support addresses."""

    message_id_domains: Collection[str] = ()
    addresses: Collection[str] = ()


def classify(
    headers: HeaderMap,
    *,
    subject: str,
    message_id: str | None,
    is_bounce: bool,
    own: OwnIdentity,
) -> Flags:
    auto_submitted = _auto_submitted(headers)
    auto_reply = _vendor_auto_reply(headers) or auto_submitted == "auto-replied"
    out_of_office = _out_of_office(headers, subject, auto_reply or auto_submitted is not None)
    precedence = (headers.raw("precedence") or headers.raw("x-precedence") or "").strip().lower()
    return Flags(
        auto_submitted=auto_submitted is not None,
        auto_reply=auto_reply or out_of_office,
        out_of_office=out_of_office,
        bulk=precedence in ("bulk", "junk") or headers.has("list-unsubscribe"),
        mailing_list=precedence == "list" or any(headers.has(h) for h in _LIST_HEADERS),
        loop=_is_loop(headers, message_id, own),
        bounce=is_bounce,
        spam_verdict=_spam_verdict(headers),
    )


def _auto_submitted(headers: HeaderMap) -> str | None:
    """The RFC 3834 keyword, or None for absent / ``no``."""
    value = (headers.raw("auto-submitted") or "").split(";", 1)[0].strip().lower()
    return None if value in ("", "no") else value


def _vendor_auto_reply(headers: HeaderMap) -> bool:
    if headers.has("x-autoreply") or headers.has("x-autorespond"):
        return True
    suppress = (headers.raw("x-auto-response-suppress") or "").lower()
    # Exchange sets OOF/AutoReply on the auto-replies it sends itself.
    return "oof" in suppress or "autoreply" in suppress


def _out_of_office(headers: HeaderMap, subject: str, automated: bool) -> bool:
    suppress = (headers.raw("x-auto-response-suppress") or "").lower()
    if headers.has("x-ms-exchange-autoreply") or "oof" in suppress:
        return True
    # Subject wording alone is weak evidence: a human may write "Out of office?".
    return automated and bool(_OUT_OF_OFFICE_SUBJECT.match(subject or ""))


def _is_loop(headers: HeaderMap, message_id: str | None, own: OwnIdentity) -> bool:
    """Our own outgoing mail came back (a forward rule, a misconfigured alias)."""
    if message_id and own.message_id_domains:
        domain = message_id.rsplit("@", 1)[-1].lower()
        if domain in {d.lower() for d in own.message_id_domains}:
            return True
    loop_values = " ".join(headers.raw_all("x-loop")).lower()
    return bool(loop_values) and any(a.lower() in loop_values for a in own.addresses)


def _spam_verdict(headers: HeaderMap) -> str | None:
    flag = (headers.raw("x-spam-flag") or "").strip().lower()
    status = (headers.raw("x-spam-status") or "").strip().lower()
    if flag == "yes" or status.startswith("yes"):
        return "spam"
    if flag == "no" or status.startswith("no"):
        return "ham"
    return None
