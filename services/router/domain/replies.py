"""Replies to customers: can this conversation be answered, and what a report does to a reply.

Pure functions over plain data. A reply moves through
``queued → retrying → accepted → sent → delivered → read`` or ends ``failed``;
reports arrive out of order (a provider's "delivered" webhook can beat the
notifier's "accepted" outcome), so a state only ever moves forward, and the
time of every state is kept whenever it is first reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.common.events.interaction import Channel, DeliveryState, ReplyPath
from libs.common.events.notification import SingleUsePart

#: How far along a reply is; a report of an earlier state changes nothing.
RANK: dict[DeliveryState, int] = {
    DeliveryState.QUEUED: 0,
    DeliveryState.RETRYING: 1,
    DeliveryState.ACCEPTED: 2,
    DeliveryState.SENT: 3,
    DeliveryState.DELIVERED: 4,
    DeliveryState.READ: 5,
}

#: Mail has no provider limit; the router caps a body at this many characters.
MAIL_TEXT_LIMIT = 32_000

#: Keys in a conversation's stored reply path: when its Kakao callback was used up,
#: and which agent reply was queued to use it (its outcome may not be back yet).
CALLBACK_USED_AT = "callback_used_at"
CALLBACK_CLAIMED_BY = "callback_claimed_by"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reply cannot be accepted; ``status`` is the HTTP status the API answers."""

    code: str
    detail: str
    status: int
    limit: int | None = None


def reply_refusal(
    *,
    channel: Channel,
    provider: str,
    reply_path: ReplyPath | None,
    customer_email: str | None,
    text: str,
    now: datetime,
    limits: dict[str, int],
    callback_used: bool = False,
    callback_claimed: bool = False,
) -> Refusal | None:
    """None when the reply can be queued; else the reason (409 channel, 422 size)."""
    unanswerable = _unanswerable(channel, reply_path, customer_email, now)
    if unanswerable is None and reply_path is not None and reply_path.provider == "kakao":
        unanswerable = _kakao_unanswerable(reply_path, now, callback_used, callback_claimed)
    if unanswerable is not None:
        return unanswerable
    outbound = reply_path.provider if reply_path is not None else provider
    limit = limits.get(outbound)
    if limit is not None and len(text) > limit:
        return Refusal(
            "too_long",
            f"{outbound} accepts at most {limit} characters; this reply has {len(text)}",
            422,
            limit,
        )
    return None


def _unanswerable(
    channel: Channel, path: ReplyPath | None, email: str | None, now: datetime
) -> Refusal | None:
    if channel is Channel.EMAIL:
        return None if email else Refusal("no_email", "the customer has no email address", 409)
    if path is None:
        what = "a phone conversation has no text channel (no SMS reply path)"
        if channel is Channel.CHAT:
            what = "no reply path: the customer's channel gave none"
        return Refusal("no_reply_path", what, 409)
    return None


def _kakao_unanswerable(
    path: ReplyPath, now: datetime, used: bool, claimed: bool
) -> Refusal | None:
    """Kakao answers only through the skill's callback: once, within its minute."""
    until = "cannot reply on this channel until the customer writes again"
    if used:
        return Refusal(
            "callback_used",
            f"Kakao's skill callback is single-use and was already used; {until}",
            409,
        )
    if not _live(path.callback_url, path.callback_expires_at, now):
        return Refusal(
            "callback_expired",
            f"Kakao answers only through the skill's callback, which has expired; {until}",
            409,
        )
    if claimed:
        return Refusal(
            "callback_used",
            f"Kakao's skill callback is single-use and an earlier reply is on its way "
            f"through it; {until}",
            409,
        )
    return None


def callback_used(stored_path: dict[str, Any] | None) -> bool:
    """The conversation's Kakao callback was used up (see :func:`spend_single_use`)."""
    return bool(stored_path and stored_path.get(CALLBACK_USED_AT))


def callback_claimed(claimant_state: DeliveryState | None) -> bool:
    """An agent reply queued on the callback is on its way or went out (its state);
    only its failure frees the callback for another reply."""
    return claimant_state is not None and claimant_state is not DeliveryState.FAILED


def claim_callback(stored_path: dict[str, Any], reply_id: str) -> dict[str, Any]:
    """The stored Kakao path with its callback claimed by the reply just queued."""
    return {**stored_path, CALLBACK_CLAIMED_BY: reply_id}


def callback_claimant(stored_path: dict[str, Any] | None) -> str | None:
    value = (stored_path or {}).get(CALLBACK_CLAIMED_BY)
    return value if isinstance(value, str) else None


def spend_single_use(
    stored_path: dict[str, Any] | None, used: SingleUsePart, at: datetime
) -> dict[str, Any] | None:
    """The stored reply path with ``used`` spent; None when it no longer holds that part.

    A newer customer message may have replaced the path (with a fresh callback
    or token) before the outcome arrived: the part is matched by its expiry, so
    the fresh one is kept. A LINE token is dropped (the next message is pushed
    directly); a Kakao callback stays, expired at its use and marked used, so the
    router can say why and the notifier's ``check`` refuses it before any I/O.
    """
    if not stored_path:
        return None
    path = ReplyPath.model_validate(stored_path)
    if used.part == "reply_token":
        if not path.reply_token or path.reply_token_expires_at != used.expires_at:
            return None
        return {
            k: v
            for k, v in stored_path.items()
            if k not in ("reply_token", "reply_token_expires_at")
        }
    if callback_used(stored_path) or path.callback_expires_at != used.expires_at:
        return None
    spent_at = min(at, used.expires_at).isoformat()
    return {**stored_path, "callback_expires_at": spent_at, CALLBACK_USED_AT: spent_at}


def _live(value: str | None, expires_at: datetime | None, now: datetime) -> bool:
    return bool(value) and (expires_at is None or now < expires_at)


@dataclass(frozen=True, slots=True)
class ReplyView:
    """What a report needs to know of a stored reply."""

    state: DeliveryState
    accepted_at: datetime | None


def next_state(current: DeliveryState, reported: DeliveryState) -> DeliveryState:
    """The reply's state after a report (forward only; failure is final unless proven wrong)."""
    if reported is DeliveryState.FAILED:
        return current if current in (DeliveryState.DELIVERED, DeliveryState.READ) else reported
    if current is DeliveryState.FAILED:
        # a later success report (e.g. a replayed send) is evidence it did go out
        return reported if RANK[reported] >= RANK[DeliveryState.ACCEPTED] else current
    return reported if RANK[reported] > RANK[current] else current


def stops_response_clock(
    *,
    purpose: str,
    reported: DeliveryState,
    already_accepted: bool,
    from_outcome: bool,
) -> bool:
    """Only a person's reply, accepted by the provider or relay, answers the customer.

    Receipts (sent/delivered/read from status webhooks), automatic messages and
    failures never stop a clock; the acceptance stops it once.
    """
    return (
        purpose == "agent_reply"
        and from_outcome
        and reported is DeliveryState.ACCEPTED
        and not already_accepted
    )
