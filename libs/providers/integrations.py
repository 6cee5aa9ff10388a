"""Integrations: the configured provider accounts, each with its secrets and routing hints.

One list, read by chat_ingest (inbound: ``secret`` verifies webhooks) and the
notifier (outbound: ``outbound`` holds the API credentials). Several accounts
per provider; a webhook URL names one (``/webhooks/{provider}/{integration_id}``).
Secrets are ``SecretStr`` and never printed; :meth:`Integration.describe` is
what operators see.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import phonenumbers
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from libs.common.events import RoutingHints
from libs.common.webhooks import UnknownIntegration


class Provider(StrEnum):
    TWILIO = "twilio"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    SLACK = "slack"
    LINE = "line"
    CHANNELTALK = "channeltalk"
    KAKAO = "kakao"
    WEBCHAT = "webchat"


#: What ``secret`` means for each provider.
SECRET_MEANING: dict[Provider, str] = {
    Provider.TWILIO: "Twilio auth token (signs X-Twilio-Signature)",
    Provider.WHATSAPP: "Meta app secret (signs X-Hub-Signature-256)",
    Provider.TELEGRAM: "secret_token given to setWebhook (X-Telegram-Bot-Api-Secret-Token)",
    Provider.SLACK: "Slack signing secret (signs X-Slack-Signature)",
    Provider.LINE: "LINE channel secret (signs X-Line-Signature)",
    Provider.CHANNELTALK: "token in the webhook URL query (?token=…)",
    Provider.KAKAO: "our token: X-Omnidesk-Token header or ?token= in the skill URL",
    Provider.WEBCHAT: "HMAC-SHA256 key for X-Omnidesk-Signature (or use api_key)",
}

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class OutboundCredentials(BaseModel):
    """What the notifier needs to answer on this integration (all optional here;
    :func:`libs.providers.registry.missing_outbound` names what a provider lacks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base_url: str | None = Field(
        None, description="Override of the provider's API base URL (tests, proxies, regions)."
    )
    token: SecretStr | None = Field(
        None,
        description="Telegram bot token, WhatsApp access token, LINE channel access token or "
        "Slack bot token (xoxb-…).",
    )
    phone_number_id: str | None = Field(None, description="WhatsApp Cloud sender phone-number id.")
    api_version: str = Field("v21.0", description="WhatsApp Graph API version in the path.")
    window_template: str | None = Field(
        None,
        description="WhatsApp: approved template sent outside the 24-hour window; its body "
        "must have one {{1}} parameter, which receives the text.",
    )
    window_template_language: str = Field("ko", description="WhatsApp template language code.")
    account_sid: str | None = Field(None, description="Twilio Account SID (AC…).")
    auth_token: SecretStr | None = Field(
        None, description="Twilio auth token for Basic auth (default: the inbound secret)."
    )
    from_number: str | None = Field(None, description="Twilio sender number (+E.164).")
    messaging_service_sid: str | None = Field(None, description="Twilio MG… (instead of From).")
    status_callback_url: str | None = Field(
        None, description="Twilio StatusCallback: this integration's public webhook URL."
    )
    access_key: SecretStr | None = Field(None, description="Channel Talk x-access-key.")
    access_secret: SecretStr | None = Field(None, description="Channel Talk x-access-secret.")
    bot_name: str | None = Field(None, description="Channel Talk: name shown on bot messages.")
    timeout_s: float = Field(10.0, gt=0, description="Per-request timeout of outbound calls.")

    def describe(self) -> dict[str, Any]:
        shown = self.model_dump(exclude_none=True, exclude_defaults=True)
        return {k: ("set" if isinstance(v, SecretStr) else v) for k, v in shown.items()}


class Integration(BaseModel):
    """One provider account whose webhooks we accept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(..., pattern=ID_PATTERN, description="Unique per provider; in the URL.")
    provider: Provider
    secret: SecretStr | None = Field(None, description="See SECRET_MEANING per provider.")
    verify_token: SecretStr | None = Field(
        None, description="WhatsApp: hub.verify_token of the subscription handshake."
    )
    api_key: SecretStr | None = Field(
        None, description="Web chat: accepted as `Authorization: Bearer <api_key>`."
    )
    routing: RoutingHints = Field(default_factory=RoutingHints)
    default_region: str | None = Field(
        None, description="Region for phone numbers without a country code (else the setting)."
    )
    agent_ids: frozenset[str] = Field(
        frozenset(), description="Provider user ids of our own agents: their messages are outbound."
    )
    outbound: OutboundCredentials = Field(
        default_factory=OutboundCredentials, description="Credentials for answering customers."
    )
    description: str = ""
    dev: bool = Field(False, description="A built-in development integration with a public secret.")

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        return known_region(value) if value is not None else None

    @model_validator(mode="after")
    def _needs_a_secret(self) -> Integration:
        if self.provider is Provider.WEBCHAT:
            if self.secret is None and self.api_key is None:
                raise ValueError(f"webchat integration {self.id!r} needs a secret or an api_key")
        elif self.secret is None or not self.secret.get_secret_value():
            raise ValueError(f"{self.provider} integration {self.id!r} needs a secret")
        return self

    def secret_value(self) -> str:
        return self.secret.get_secret_value() if self.secret else ""

    def describe(self) -> dict[str, Any]:
        """What an operator may see: everything but the secrets' values."""
        return {
            "provider": self.provider.value,
            "id": self.id,
            "path": webhook_path(self.provider, self.id),
            "secret": "set" if self.secret else "unset",
            "verify_token": "set" if self.verify_token else "unset",
            "api_key": "set" if self.api_key else "unset",
            "routing": self.routing.model_dump(exclude_defaults=True),
            "outbound": self.outbound.describe(),
            "dev": self.dev,
            "description": self.description,
        }


def known_region(value: str) -> str:
    """An ISO 3166 region phonenumbers knows (KR, US, JP …); refuse anything else at start."""
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {value!r}; use an ISO 3166 code such as KR")
    return region


def webhook_path(provider: Provider, integration_id: str) -> str:
    base = f"/webhooks/{provider.value}/{integration_id}"
    return f"{base}/messages" if provider is Provider.WEBCHAT else base


_INTEGRATION_LIST = TypeAdapter(list[Integration])


def parse_integrations(raw: str | list[Any]) -> list[Integration]:
    """A JSON text or an already-parsed list of integration objects."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    return _INTEGRATION_LIST.validate_python(data)


def load_integrations_file(path: Path) -> list[Integration]:
    """A YAML (or JSON) file holding a list of integrations."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return parse_integrations(data)


class IntegrationRegistry:
    def __init__(self, integrations: list[Integration]) -> None:
        self._by_key: dict[tuple[Provider, str], Integration] = {}
        for integration in integrations:
            key = (integration.provider, integration.id)
            if key in self._by_key:
                raise ValueError(f"duplicate integration {integration.provider}/{integration.id}")
            self._by_key[key] = integration

    def get(self, provider: Provider, integration_id: str) -> Integration:
        try:
            return self._by_key[(provider, integration_id)]
        except KeyError:
            raise UnknownIntegration(
                f"no {provider.value} integration {integration_id!r} is configured",
                provider=provider.value,
            ) from None

    def all(self) -> list[Integration]:
        return sorted(self._by_key.values(), key=lambda i: (i.provider.value, i.id))

    def __len__(self) -> int:
        return len(self._by_key)


DEV_SECRET = "dev-only-insecure-secret"  # noqa: S105 - public on purpose, dev only


def dev_integrations() -> list[Integration]:
    """One integration per provider with a PUBLIC secret, for `omnidesk dev up` only."""
    secret = SecretStr(DEV_SECRET)
    hints = RoutingHints(queue="general", brand="omnidesk-dev")
    return [*_dev_per_provider(secret, hints), _dev_assistant_telegram(secret, hints)]


def _dev_assistant_telegram(secret: SecretStr, hints: RoutingHints) -> Integration:
    """Telegram ``faq``: the sample rules send its chats to the assistant first (demo)."""
    return Integration(
        id="faq",
        provider=Provider.TELEGRAM,
        secret=secret,
        routing=hints,
        description=f"DEVELOPMENT ONLY — secret is {DEV_SECRET!r}, never use in production",
        dev=True,
    )


def _dev_per_provider(secret: SecretStr, hints: RoutingHints) -> list[Integration]:
    return [
        Integration(
            id="dev",
            provider=provider,
            secret=secret,
            verify_token=secret if provider is Provider.WHATSAPP else None,
            api_key=secret if provider is Provider.WEBCHAT else None,
            routing=hints,
            description=f"DEVELOPMENT ONLY — secret is {DEV_SECRET!r}, never use in production",
            dev=True,
        )
        for provider in Provider
    ]
