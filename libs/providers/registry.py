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
    can_reply: bool  # an outbound API exists (webchat: the notifier's outbox instead)
    has_quick_replies: bool  # buttons / quick replies; else "reply 1-5" as text
    reports_delivery_status: bool
    max_text_chars: int
    #: Outbound credential fields this provider needs (see OutboundCredentials).
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderSpec:
    provider: Provider
    capabilities: Capabilities
    inbound: InboundSpec  # verify / parse / answer of its webhooks
    outbound: ModuleType | None  # build_request / classify / check / MAX_TEXT_CHARS
    sender_class: type[HttpSender] = HttpSender


PROVIDERS: dict[Provider, ProviderSpec] = {
    spec.provider: spec
    for spec in (
        ProviderSpec(
            Provider.TELEGRAM,
            Capabilities(True, True, False, telegram.MAX_TEXT_CHARS, ("token",)),
            telegram.inbound.INBOUND,
            telegram.outbound,
        ),
        ProviderSpec(
            Provider.WHATSAPP,
            Capabilities(
                True, True, True, whatsapp.outbound.MAX_TEXT_CHARS, ("token", "phone_number_id")
            ),
            whatsapp.inbound.INBOUND,
            whatsapp.outbound,
        ),
        ProviderSpec(
            Provider.TWILIO,
            Capabilities(True, False, True, twilio.outbound.MAX_TEXT_CHARS, ("account_sid",)),
            twilio.inbound.INBOUND,
            twilio.outbound,
        ),
        ProviderSpec(
            Provider.LINE,
            Capabilities(True, True, False, line.outbound.MAX_TEXT_CHARS, ("token",)),
            line.inbound.INBOUND,
            line.outbound,
            line.outbound.LineSender,
        ),
        ProviderSpec(
            Provider.SLACK,
            Capabilities(True, True, False, slack.outbound.MAX_TEXT_CHARS, ("token",)),
            slack.inbound.INBOUND,
            slack.outbound,
        ),
        ProviderSpec(
            Provider.CHANNELTALK,
            Capabilities(
                True,
                False,
                False,
                channeltalk.outbound.MAX_TEXT_CHARS,
                ("access_key", "access_secret"),
            ),
            channeltalk.inbound.INBOUND,
            channeltalk.outbound,
        ),
        ProviderSpec(
            Provider.KAKAO,
            Capabilities(True, True, False, kakao.outbound.MAX_TEXT_CHARS),
            kakao.inbound.INBOUND,
            kakao.outbound,
        ),
        ProviderSpec(
            Provider.WEBCHAT,
            Capabilities(False, True, False, 10_000),
            webchat.inbound.INBOUND,
            None,
        ),
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
