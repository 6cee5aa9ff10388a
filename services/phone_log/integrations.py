"""Configured phone integrations (accounts): one per PBX or provider account.

Configured as a JSON list in ``PHONE_LOG_INTEGRATIONS``; each entry names its
provider, carries its secrets (``SecretStr``, never logged) and routing hints.
"""

from __future__ import annotations

from typing import Annotated, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from libs.common.events import RoutingHints
from libs.common.timezones import known_timezone

Provider = Literal["twilio", "asterisk", "freeswitch", "cti"]
PROVIDERS: tuple[Provider, ...] = ("twilio", "asterisk", "freeswitch", "cti")


def _non_empty_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("a secret must not be empty")
    return value


class IntegrationBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider
    id: str = Field(
        ...,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Integration id; part of the webhook URL, the event source and its ids.",
    )
    queue: str | None = Field(None, description="Routing hint: queue for this line.")
    language: str | None = Field(None, description="Routing hint: language, e.g. ko or en.")
    priority: str | None = Field(None, description="Routing hint: priority.")
    tags: list[str] = Field(default_factory=list, description="Routing hint: tags.")
    default_region: str | None = Field(
        None, description="Region for national numbers on this line; the service default if unset."
    )
    own_numbers: list[str] = Field(
        default_factory=list,
        description="Our own DIDs / caller IDs on this line: never taken as the customer.",
    )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        return None if value is None else known_region(value)

    def routing_hints(self) -> RoutingHints:
        return RoutingHints(
            queue=self.queue, language=self.language, priority=self.priority, tags=self.tags
        )


class TwilioIntegration(IntegrationBase):
    provider: Literal["twilio"] = "twilio"
    auth_token: SecretStr = Field(..., description="Twilio auth token: the signature key.")
    public_base_url: str | None = Field(
        None,
        description="Scheme+host Twilio calls (e.g. https://desk.example.com); "
        "rebuilt from X-Forwarded-* headers when unset.",
    )

    _secret = field_validator("auth_token")(_non_empty_secret)


class PbxIntegration(IntegrationBase):
    timezone: str | None = Field(
        None, description="Time zone of the PBX's local timestamps; the service default if unset."
    )
    extension_max_digits: int = Field(
        6, ge=1, le=10, description="Numbers this short are internal extensions, not customers."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return None if value is None else known_timezone(value)


class AsteriskIntegration(PbxIntegration):
    provider: Literal["asterisk"] = "asterisk"
    token: SecretStr = Field(..., description="Shared token the dialplan sends in the header.")
    outbound_contexts: list[str] = Field(
        default_factory=list,
        description="Dialplan contexts (dcontext) of calls our agents place, e.g. "
        "outbound-allroutes; else an extension calling a number counts as outbound.",
    )

    _secret = field_validator("token")(_non_empty_secret)


class FreeswitchIntegration(PbxIntegration):
    provider: Literal["freeswitch"] = "freeswitch"
    username: str = Field(..., min_length=1, description="HTTP basic user (json_cdr `cred`).")
    password: SecretStr = Field(..., description="HTTP basic password (json_cdr `cred`).")
    decode_values: bool = Field(
        True,
        description="URL-decode variable values (json_cdr `encode-values`, on by default).",
    )

    _secret = field_validator("password")(_non_empty_secret)


class CtiIntegration(IntegrationBase):
    provider: Literal["cti"] = "cti"
    token: SecretStr = Field(..., description="Secret token in the webhook path.")
    subscribe_in_reply: bool = Field(
        False,
        description="sipgate.io style: answer newCall with <Response onAnswer=… onHangup=…/> "
        "(this same URL) so the PBX also sends answer and hangup.",
    )

    _secret = field_validator("token")(_non_empty_secret)


Integration = Annotated[
    TwilioIntegration | AsteriskIntegration | FreeswitchIntegration | CtiIntegration,
    Field(discriminator="provider"),
]


def known_region(value: str) -> str:
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {value!r} (ISO 3166 alpha-2, e.g. KR)")
    return region


def dev_sample_integrations() -> list[Integration]:
    """Well-known secrets for `omnidesk dev up` only; never for a real line."""
    return [
        TwilioIntegration(id="dev-twilio", auth_token=SecretStr("dev-twilio-auth-token")),
        AsteriskIntegration(id="dev-asterisk", token=SecretStr("dev-asterisk-token")),
        FreeswitchIntegration(
            id="dev-freeswitch", username="freeswitch", password=SecretStr("dev-freeswitch")
        ),
        CtiIntegration(id="dev-cti", token=SecretStr("dev-cti-token")),
    ]
