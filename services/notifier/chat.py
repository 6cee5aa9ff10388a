"""Customer messages on their chat channel: which sender, what message, how long to wait.

The notifier does not know any provider's API: it asks :class:`ChatSenders`
for the configured integration's :class:`~libs.providers.outbound.ProviderSender`
(built from the provider registry in the composition root, a plain fake in
unit tests) and hands it an :class:`~libs.providers.outbound.OutboundMessage`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeGuard, runtime_checkable

import httpx

from libs.common.events.interaction import ReplyPath
from libs.common.events.notification import SingleUsePart
from libs.common.ids import deterministic_id
from libs.common.kafka.consumer import DependencyUnavailable
from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import OutboundMessage, ProviderSender, QuickReply, SendOutcome
from libs.providers.registry import PROVIDERS, NotConfigured, make_sender
from services.notifier.errors import TransientDeliveryError

log = logging.getLogger(__name__)

#: Purposes by template (the router's clocks stop only for ``agent_reply``).
PURPOSES = {
    "customer_reply": "agent_reply",
    "customer_ack": "acknowledgement",
    "chat_ack": "acknowledgement",
    "customer_csat": "csat_survey",
    "chat_csat": "csat_survey",
    "assistant_answer": "assistant_answer",
}

#: Quick-reply payload of a survey answer ("csat:4"); the router reads it back.
CSAT_PAYLOAD_PREFIX = "csat:"

#: Longest we wait before one retry, even when a provider asks for more (Retry-After):
#: beyond it the attempt budget ends and the consumer waits the outage out.
MAX_RETRY_WAIT_S = 300.0


@runtime_checkable
class BatchSender(Protocol):
    """A sender that takes a poll's messages at once (web chat: one outbox transaction),
    in order, each with its own outcome."""

    async def send_many(self, messages: list[OutboundMessage]) -> list[SendOutcome]: ...


def is_batch_sender(sender: object) -> TypeGuard[BatchSender]:
    """``isinstance(sender, BatchSender)``, answered once per sender class: the protocol's
    own check collects its members again on every call (Python 3.11: ~10 µs for a web-chat
    sender, ~38 µs for any other, once per chat message of a poll)."""
    return _has_send_many(type(sender))


@functools.cache
def _has_send_many(cls: type) -> bool:
    return callable(getattr(cls, "send_many", None))


class SenderNotConfigured(LookupError):
    """No usable integration for this reply path (an operator must configure it)."""


class ChatSenders(Protocol):
    def sender(self, provider: str, integration: str) -> ProviderSender:
        """The integration's sender; raises :class:`SenderNotConfigured`."""

    def has_quick_replies(self, provider: str) -> bool:
        """Buttons / quick replies exist (else surveys ask to "reply 1-5")."""


@dataclass
class StaticChatSenders:
    """Senders by (provider, integration), built once by the composition root."""

    senders: dict[tuple[str, str], ProviderSender]
    problems: dict[tuple[str, str], str]
    quick_reply_providers: frozenset[str] = frozenset()

    def has_quick_replies(self, provider: str) -> bool:
        return provider in self.quick_reply_providers

    def sender(self, provider: str, integration: str) -> ProviderSender:
        key = (provider, integration)
        found = self.senders.get(key)
        if found is None:
            reason = self.problems.get(key, "no such integration is configured")
            raise SenderNotConfigured(f"{provider} integration {integration!r}: {reason}")
        return found


class ProviderUnavailable(TransientDeliveryError, DependencyUnavailable):
    """The provider kept answering "later" (429/5xx/network) for the whole retry budget.

    Like an unreachable SMTP relay: the claim is released and the consumer waits
    the outage out, instead of failing the message or retrying in a tight loop.
    """


def build_chat_senders(
    integrations: list[Integration],
    client: httpx.AsyncClient,
    *,
    webchat: Callable[[Integration], ProviderSender] | None = None,
) -> StaticChatSenders:
    """One sender per configured integration; what cannot send is kept with the reason."""
    senders: dict[tuple[str, str], ProviderSender] = {}
    problems: dict[tuple[str, str], str] = {}
    for integration in integrations:
        key = (integration.provider.value, integration.id)
        if integration.provider is Provider.WEBCHAT and webchat is not None:
            senders[key] = webchat(integration)
            continue
        try:
            senders[key] = make_sender(integration, client)
        except NotConfigured as exc:
            problems[key] = str(exc)
            log.warning("no replies on %s/%s: %s", *key, exc)
    quick = frozenset(
        p.value for p, spec in PROVIDERS.items() if spec.capabilities.has_quick_replies
    )
    return StaticChatSenders(senders, problems, quick)


def idempotency_key(event_id: str, template: str, reply_id: str | None) -> str:
    """The reply id for agent replies (stable across redeliveries), else one per notice."""
    return reply_id or deterministic_id("notifier.chat", event_id, template)


#: The providers' names, read once: ``Provider.KAKAO.value`` is the enum's ``value``
#: property, a Python call, and this runs for every chat outcome delivered (two each).
_KAKAO, _LINE = Provider.KAKAO.value, Provider.LINE.value


def single_use_part(path: ReplyPath | None) -> SingleUsePart | None:
    """The single-use part a delivered message on ``path`` used up, for the router to spend.

    Kakao sends only through the callback; a LINE token is used while fresh and,
    refused or stale, is of no further use either — so any delivery spends it.
    """
    if path is None:
        return None
    if path.provider == _KAKAO and path.callback_url and path.callback_expires_at:
        return SingleUsePart(part="callback", expires_at=path.callback_expires_at)
    if path.provider == _LINE and path.reply_token and path.reply_token_expires_at:
        return SingleUsePart(part="reply_token", expires_at=path.reply_token_expires_at)
    return None


def retry_delay(outcome: SendOutcome, attempt: int, *, initial_s: float, max_s: float) -> float:
    """Exponential backoff, but never sooner than the provider asked (Retry-After)."""
    backoff = min(max_s, initial_s * 2 ** (attempt - 1))
    return min(MAX_RETRY_WAIT_S, max(backoff, outcome.retry_after_s or 0.0))


def assistant_buttons(labels: list[str]) -> list[QuickReply]:
    """The assistant's "did that help?" answers; the label comes back as the customer's text."""
    return [QuickReply(label=label[:20], payload=label) for label in labels]


def csat_buttons(labels: dict[int, str], payload_prefix: str) -> list[QuickReply]:
    """Five quick replies, 1 to 5; the payload comes back on the customer's next message."""
    return [
        QuickReply(label=labels.get(score, str(score)), payload=f"{payload_prefix}{score}")
        for score in (1, 2, 3, 4, 5)
    ]
