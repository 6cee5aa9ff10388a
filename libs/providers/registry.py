"""The provider table: provider name → what it can do and how to answer on it.

The notifier calls :func:`make_sender` with a configured integration and its
shared ``httpx.AsyncClient``; chat_ingest builds its webhook routes from
each row's ``inbound`` (:mod:`libs.providers.webhooks`). A new provider is one package
under ``libs/providers/`` plus one row here.

Which providers report delivery statuses of our messages (they arrive as
``kind=delivery_status`` interactions through chat_ingest): WhatsApp Cloud
(``statuses`` sent/delivered/read/failed) and Twilio (``MessageStatus``
callbacks to the StatusCallback URL). Telegram, Slack, LINE, Channel Talk
and Kakao report none: a reply they accepted stays "accepted".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import httpx

from libs.common.events.base import utc_now
from libs.providers import channeltalk, kakao, line, slack, telegram, twilio, webchat, whatsapp
from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import ProviderSender
from libs.providers.sending import Clock, HttpSender
from libs.providers.webhooks import InboundSpec


@dataclass(frozen=True)
class Capabilities:
    has_outbound_api: bool  # False for web chat: answered through the notifier's outbox
    has_quick_replies: bool  # buttons / quick replies; else "reply 1-5" as text
    reports_delivery_status: bool
    max_text_chars: int
    #: Outbound credential fields this provider needs (see OutboundCredentials).
    needs: tuple[str, ...] = ()
    #: The webhook's own answer already acknowledges the customer (Kakao's skill answers
    #: with a waiting text): an automatic acknowledgement would only spend a single-use
    #: reply path the agent needs.
    acknowledged_by_webhook_answer: bool = False


@dataclass(frozen=True)
class ProviderSpec:
    provider: Provider
    capabilities: Capabilities
    inbound: InboundSpec  # verify / parse / answer of its webhooks
    outbound: ModuleType | None  # build_request / classify / check / MAX_TEXT_CHARS
    sender_class: type[HttpSender] = HttpSender


def _row(
    package: ModuleType,
    *,
    quick_replies: bool,
    statuses: bool,
    needs: tuple[str, ...] = (),
    sender_class: type[HttpSender] = HttpSender,
    acknowledged_by_webhook_answer: bool = False,
) -> ProviderSpec:
    """A provider with an outbound API: everything else comes from its package."""
    return ProviderSpec(
        provider=package.inbound.INBOUND.provider,
        capabilities=Capabilities(
            has_outbound_api=True,
            has_quick_replies=quick_replies,
            reports_delivery_status=statuses,
            max_text_chars=package.outbound.MAX_TEXT_CHARS,
            needs=needs,
            acknowledged_by_webhook_answer=acknowledged_by_webhook_answer,
        ),
        inbound=package.inbound.INBOUND,
        outbound=package.outbound,
        sender_class=sender_class,
    )


#: Web chat has no provider API: replies wait in the notifier's outbox for the widget.
WEBCHAT = ProviderSpec(
    provider=Provider.WEBCHAT,
    capabilities=Capabilities(
        has_outbound_api=False,
        has_quick_replies=True,
        reports_delivery_status=False,
        max_text_chars=webchat.inbound.MAX_REPLY_CHARS,
    ),
    inbound=webchat.inbound.INBOUND,
    outbound=None,
)

PROVIDERS: dict[Provider, ProviderSpec] = {
    spec.provider: spec
    for spec in (
        _row(telegram, quick_replies=True, statuses=False, needs=("token",)),
        _row(whatsapp, quick_replies=True, statuses=True, needs=("token", "phone_number_id")),
        _row(twilio, quick_replies=False, statuses=True, needs=("account_sid",)),
        _row(
            line,
            quick_replies=True,
            statuses=False,
            needs=("token",),
            sender_class=line.outbound.LineSender,
        ),
        _row(slack, quick_replies=True, statuses=False, needs=("token",)),
        _row(
            channeltalk, quick_replies=False, statuses=False, needs=("access_key", "access_secret")
        ),
        _row(kakao, quick_replies=True, statuses=False, acknowledged_by_webhook_answer=True),
        WEBCHAT,
    )
}


class NotConfigured(ValueError):
    """The integration lacks what its provider needs to send (named in the message)."""


def spec(provider: Provider | str) -> ProviderSpec:
    return PROVIDERS[Provider(provider)]


def missing_outbound(integration: Integration) -> list[str]:
    """Outbound credential fields this integration still lacks (empty: ready to send)."""
    credentials = integration.outbound
    missing = [
        name
        for name in spec(integration.provider).capabilities.needs
        if not getattr(credentials, name)
    ]
    if integration.provider is Provider.TWILIO:
        if not (credentials.auth_token or integration.secret):
            missing.append("auth_token")
        if not (credentials.from_number or credentials.messaging_service_sid):
            missing.append("from_number or messaging_service_sid")
    return missing


def make_sender(
    integration: Integration, client: httpx.AsyncClient, *, clock: Clock = utc_now
) -> ProviderSender:
    """The integration's sender; raises NotConfigured naming what is missing."""
    provider = spec(integration.provider)
    if provider.outbound is None:
        raise NotConfigured(
            f"{integration.provider.value} integration {integration.id!r} has no outbound API: "
            "replies are kept in the notifier's outbox for the widget"
        )
    missing = missing_outbound(integration)
    if missing:
        raise NotConfigured(
            f"{integration.provider.value} integration {integration.id!r} cannot send: "
            f"set outbound.{', outbound.'.join(missing)}"
        )
    module = provider.outbound
    return provider.sender_class(
        provider=integration.provider.value,
        max_text_chars=module.MAX_TEXT_CHARS,
        integration=integration,
        client=client,
        build=module.build_request,
        classify=module.classify,
        extra_check=getattr(module, "check", None),
        clock=clock,
    )


SenderFactory = Callable[[Integration, httpx.AsyncClient], ProviderSender]
