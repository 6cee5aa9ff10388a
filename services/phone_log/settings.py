"""phone_log settings: environment variables prefixed ``PHONE_LOG_``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import AliasChoices, Field, TypeAdapter, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from libs.common.settings import ServiceSettings, default_home
from libs.common.timezones import known_timezone
from libs.common.webhooks.serve import DEFAULT_KEEP_ALIVE_S, KeepAliveSeconds
from services.phone_log.integrations import Integration, dev_sample_integrations, known_region


def load_integrations_file(path: Path) -> list[Integration]:
    """A YAML (or JSON, which is YAML) file holding a list of integrations."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return TypeAdapter(list[Integration]).validate_python(data)


class PhoneLogSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PHONE_LOG_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = Field("phone_log", description="Name in logs and the Kafka client id.")
    http_host: str = Field("127.0.0.1", description="Bind address (0.0.0.0 in a container).")
    state_dir: Path = Field(
        default_factory=lambda: default_home() / "phone_log",
        description="Where `omnidesk phone quarantine replay` keeps its ledger (replays.db).",
    )
    http_port: int = Field(8082, ge=1, le=65535, description="Webhook HTTP port.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the port (uvicorn workers), each with its own "
        "Kafka producer. One process uses about one core: run one per core you give the "
        "service (services/chat_ingest/README.md, Performance).",
    )
    default_region: str = Field(
        "KR", description="Region for numbers given without a country code (ISO 3166 alpha-2)."
    )
    default_timezone: str = Field(
        "Asia/Seoul", description="Time zone of PBX timestamps that carry no offset."
    )
    integrations: list[Integration] = Field(
        default_factory=list,
        description="JSON list of integrations: provider, id, secrets, routing hints.",
    )
    integrations_file: Path | None = Field(
        None,
        description="YAML or JSON file with more integrations (e.g. a mounted Secret); "
        "added to PHONE_LOG_INTEGRATIONS.",
    )
    dev_samples: bool = Field(
        False,
        description="`python -m services.phone_log` with no integrations loads sample dev "
        "integrations (well-known secrets); `omnidesk dev up` sets it. Never in production.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest webhook body accepted; larger gets 413."
    )
    retry_after_s: int = Field(
        5, ge=1, description="Retry-After of a 503 while Kafka does not acknowledge."
    )
    ack_deadline_s: float | None = Field(
        None,
        gt=0,
        description="Answer 503 if Kafka has not acknowledged within this many seconds "
        "(tighter than KAFKA_SEND_TIMEOUT_S; Twilio gives up after 15 s).",
    )
    max_in_flight: int = Field(
        10_000, ge=1, description="Requests waiting for Kafka before new ones get 503 at once."
    )
    fast_path: bool = Field(
        True,
        description="Dispatch webhook POSTs straight to their endpoint functions, skipping "
        "FastAPI's per-request routing/dependency layer; same functions, same answers. "
        "false sends everything through FastAPI.",
    )
    log_each_event: bool = Field(
        False,
        description="Log every accepted call event at INFO (event id, kind, call id; ~30-50 µs "
        "of CPU each). false: one INFO summary per minute, each event at DEBUG.",
    )
    trust_forwarded_headers: bool = Field(
        False,
        description="Rebuild the public URL Twilio signed from X-Forwarded-* (only behind "
        "your own proxy).",
    )
    public_base_url: str | None = Field(
        None,
        description="Public base URL Twilio calls, e.g. https://hooks.example.com; an "
        "integration's own public_base_url wins.",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        validation_alias=AliasChoices("PHONE_LOG_LOG_FORMAT", "LOG_FORMAT", "log_format"),
        description="json: one object per line; text for `omnidesk dev up` (LOG_FORMAT works too).",
    )
    publish_linger_ms: int = Field(
        20,
        ge=0,
        le=100,
        description="How long the Kafka producer holds an event for others to share its "
        "produce request (replaces KAFKA_LINGER_MS here, as CHAT_INGEST_PUBLISH_LINGER_MS "
        "does for chat). Each answer waits up to this much more; 20 instead of 2 spent "
        "~6 % less CPU a callback saturated and 24-33 % less at 250/s "
        "(services/phone_log/README.md).",
    )
    http_keep_alive_s: KeepAliveSeconds = DEFAULT_KEEP_ALIVE_S

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return known_region(value)

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return known_timezone(value)

    @model_validator(mode="after")
    def _load_file(self) -> PhoneLogSettings:
        if self.integrations_file is not None:
            self.integrations = [
                *self.integrations,
                *load_integrations_file(self.integrations_file),
            ]
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> PhoneLogSettings:
        seen: set[tuple[str, str]] = set()
        for integration in self.integrations:
            key = (integration.provider, integration.id)
            if key in seen:
                raise ValueError(f"integration {integration.provider}/{integration.id} twice")
            seen.add(key)
        return self

    def with_dev_samples(self) -> PhoneLogSettings:
        return self.model_copy(update={"integrations": dev_sample_integrations()})
