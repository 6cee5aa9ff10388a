"""Notifier settings: environment variables with the ``NOTIFIER_`` prefix.

Defaults run against the local SMTP sink (``omnidesk notifier sink`` /
``omnidesk dev up``) and a SQLite sent-log under ``$OMNIDESK_HOME``.
Validators refuse combinations that would leak mail or secrets in production.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode, SettingsConfigDict

from libs.common.csat_links import DEV_CSAT_LINK_SECRET
from libs.common.memory import MemorySettings
from libs.common.privacy.identifiers import PrivacySettings
from libs.common.settings import ServiceSettings, default_home
from libs.common.timezones import known_timezone
from libs.providers.integrations import (
    Integration,
    load_integrations_file,
    parse_integrations,
)
from services.notifier.webhook_targets import WebhookTarget

#: The development CSAT secret; refused when mail goes to a real (non-loopback) server.
DEV_CSAT_SECRET = DEV_CSAT_LINK_SECRET  # a marker, refused outside loopback


def _default_state_dir() -> Path:
    return default_home() / "notifier"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpTls(StrEnum):
    IMPLICIT = "implicit"  # TLS from the first byte (port 465)
    STARTTLS = "starttls"  # plain connect, then STARTTLS (port 587); refused if not offered
    NONE = "none"  # plain text: loopback only unless explicitly allowed


class EventLoop(StrEnum):
    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


class NotifierSettings(ServiceSettings, MemorySettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFIER_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = Field("notifier", description="Name in logs and metrics.")
    log_format: Literal["json", "text"] = Field(
        "json",
        validation_alias=AliasChoices("NOTIFIER_LOG_FORMAT", "LOG_FORMAT", "log_format"),
        description="json: one object per line; text for `omnidesk dev up` (LOG_FORMAT works too).",
    )
    probe_port: int = Field(9102, ge=0, description="/healthz, /readyz, /metrics (0: off).")
    group_id: str = Field("omnidesk-notifier", description="Kafka consumer group.")
    source: str = Field("omnidesk/notifier", description="CloudEvents source of outcomes.")

    # --- SMTP ---
    smtp_host: str = Field("127.0.0.1", description="SMTP relay host (the local sink in dev).")
    smtp_port: int = Field(1025, ge=1, le=65535, description="465 implicit TLS, 587 STARTTLS.")
    smtp_tls: SmtpTls = Field(SmtpTls.NONE, description="implicit, starttls or none.")
    smtp_allow_plaintext: bool = Field(
        False, description="Allow smtp_tls=none to a non-loopback host (e.g. a compose sink)."
    )
    smtp_validate_certs: bool = Field(True, description="Verify the relay's TLS certificate.")
    smtp_ca_file: Path | None = Field(
        None, description="CA bundle for the relay's certificate (default: system store)."
    )
    smtp_user: str | None = Field(None, description="SMTP AUTH user; no AUTH when unset.")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password.")
    smtp_timeout_s: float = Field(15.0, gt=0, description="Connect and per-command timeout.")
    smtp_pool_size: int = Field(
        4, ge=1, le=64, description="Persistent SMTP connections reused across mails."
    )
    consumer_fetch_max_wait_ms: int = Field(
        100,
        ge=0,
        le=500,
        description="The longest the broker holds the routing-topic consumer's fetch for "
        "KAFKA_FETCH_MIN_BYTES, in place of KAFKA_FETCH_MAX_WAIT_MS. A poll costs the notifier "
        "its sent-log trips, an outcome produce and a fetch whatever it holds: at pipeline "
        "rates a longer wait makes fewer, larger polls, for up to this much more latency "
        "(as the router's ROUTER_CONSUMER_FETCH_MAX_WAIT_MS).",
    )
    consumer_fetch_min_bytes: int = Field(
        262_144,
        ge=1,
        description="The routing-topic consumer's own KAFKA_FETCH_MIN_BYTES: with "
        "NOTIFIER_CONSUMER_FETCH_MAX_WAIT_MS it sets how many polls a second the notifier "
        "makes at a given rate. Each poll costs ~5-6 ms of CPU whatever it holds (its fetch, "
        "sent-log transactions, outcome produce, SMTP round trips: bench.notify_paced_cpu), so "
        "at pipeline rates a fuller fetch spends less per notice, for up to "
        "NOTIFIER_CONSUMER_FETCH_MAX_WAIT_MS more latency (256 KiB: ~60 POSTs' routing "
        "events; 65536 is the shared KAFKA_FETCH_MIN_BYTES).",
    )
    chat_concurrency: int = Field(
        8,
        ge=1,
        le=256,
        description="Conversations whose chat messages go out at once (each in order); also"
        " the most chat messages a crash can leave sent but unrecorded (re-sent after the lease).",
    )
    send_attempts: int = Field(
        6, ge=1, description="Tries per mail/webhook on transient failures before dead letter."
    )
    send_backoff_initial_s: float = Field(0.5, gt=0, description="First retry delay.")
    send_backoff_max_s: float = Field(30.0, gt=0, description="Longest retry delay.")
    claim_lease_s: float = Field(
        120.0,
        gt=0,
        description="A 'sending' claim older than this is taken over (crashed sender).",
    )
    sentlog_retention_days: int = Field(
        90,
        ge=1,
        description="Finished sent-log rows (recipient addresses) older than this are deleted; "
        "keep it above the topic retention plus the longest replay delay.",
    )
    privacy: PrivacySettings = Field(
        default_factory=PrivacySettings,
        description="PRIVACY_HASH_KEY: sent-log recipients are hashed; erasure requests consumed.",
    )

    # --- Mail identity ---
    from_address: str = Field("support@omnidesk.localhost", description="From and envelope.")
    from_name: str = Field("Support", description="Display name in From.")
    mail_domain: str = Field(
        "omnidesk.localhost", description="Right-hand side of our Message-IDs."
    )
    default_locale: str = Field("en", description="Used when no locale is known.")
    locales: list[str] = Field(["en", "ko"], description="Locales with templates.")
    display_timezone: str = Field(
        "Asia/Seoul", description="IANA zone in which mails show times (due dates)."
    )
    templates_dir: Path | None = Field(
        None, description="Folder whose templates override the built-in ones (same names)."
    )

    # --- Loop safety and sent-log ---
    state_dir: Path = Field(
        default_factory=_default_state_dir, description="Where the SQLite sent-log lives."
    )
    sentlog_url: str | None = Field(
        None,
        description="SQLAlchemy async URL (sqlite+aiosqlite:/// or postgresql+asyncpg://); "
        "default: SQLite in state_dir.",
    )
    rate_window_minutes: int = Field(
        60, ge=0, description="At most one automatic reply per sender per window (0: no limit)."
    )

    # --- Webhooks ---
    webhook_targets: list[WebhookTarget] = Field(
        default_factory=list, description="JSON list of {name, kind, url, secret, event_types}."
    )
    webhook_timeout_s: float = Field(5.0, gt=0, description="Per-request timeout.")

    # --- CSAT ---
    csat_base_url: str = Field(
        "http://127.0.0.1:8080/csat", description="Rating links point here (?c=…&s=…&sig=…)."
    )
    csat_signing_secret: SecretStr = Field(
        SecretStr(DEV_CSAT_SECRET), description="HMAC key of rating links; set in production."
    )

    # --- Chat channels (the same integration list as chat_ingest) ---
    integrations: Annotated[list[Integration], NoDecode] = Field(
        default_factory=list,
        description="JSON list of integrations (as CHAT_INGEST_INTEGRATIONS); `outbound` holds "
        "the API credentials used to answer customers on each.",
    )
    integrations_file: Path | None = Field(
        None, description="YAML/JSON file with a list of integrations (added to the above)."
    )
    webchat_host: str = Field("127.0.0.1", description="Bind address of the web-chat outbox.")
    webchat_port: int = Field(
        9103, ge=0, le=65535, description="Web-chat outbox the widget polls / streams (0: off)."
    )

    # --- Local SMTP sink (developer tool) ---
    sink_host: str = Field("127.0.0.1", description="Bind address of the local SMTP sink.")
    sink_port: int = Field(1025, ge=1, le=65535, description="Port of the local SMTP sink.")
    sink_dir: Path | None = Field(
        None, description="Folder for received .eml files (default: state_dir/outbox)."
    )
    smtp_pipeline_depth: int = Field(
        4,
        ge=1,
        le=64,
        description="Mails queued per SMTP connection (the notifier keeps pool size x this"
        " many mails built and in flight): on a relay with PIPELINING each mail's content"
        " goes in one write with the next mail's envelope (RFC 2920 §3.1).",
    )
    event_loop: EventLoop = Field(
        EventLoop.UVLOOP,
        description="The process's event loop (python -m services.notifier): uvloop (libuv,"
        " in C) or asyncio's own selector loop.",
    )

    @field_validator("integrations", mode="before")
    @classmethod
    def _parse_integrations(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_integrations(value) if value.strip() else []
        return value

    def all_integrations(self) -> list[Integration]:
        from_file = load_integrations_file(self.integrations_file) if self.integrations_file else []
        return [*self.integrations, *from_file]

    @field_validator("default_locale")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("display_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_timezone(value)

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> NotifierSettings:
        loopback = is_loopback(self.smtp_host)
        if self.smtp_tls is SmtpTls.NONE and not loopback and not self.smtp_allow_plaintext:
            raise ValueError(
                "NOTIFIER_SMTP_TLS=none to a non-loopback host; use starttls/implicit "
                "or set NOTIFIER_SMTP_ALLOW_PLAINTEXT=true"
            )
        if not loopback and self.csat_signing_secret.get_secret_value() == DEV_CSAT_SECRET:
            raise ValueError("set NOTIFIER_CSAT_SIGNING_SECRET before sending to a real relay")
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} not in locales")
        names = [t.name for t in self.webhook_targets]
        if len(names) != len(set(names)):
            raise ValueError("webhook target names must be unique")
        return self

    def resolved_sentlog_url(self) -> str:
        if self.sentlog_url:
            return self.sentlog_url
        return f"sqlite+aiosqlite:///{self.state_dir / 'sentlog.db'}"

    def resolved_sink_dir(self) -> Path:
        return self.sink_dir or self.state_dir / "outbox"
