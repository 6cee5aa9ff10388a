"""Settings of chat_ingest (environment only, prefix ``CHAT_INGEST_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from libs.common.settings import KafkaSettings, ServiceSettings, default_home
from libs.common.webhooks.serve import DEFAULT_KEEP_ALIVE_S, KeepAliveSeconds
from libs.providers.integrations import (
    Integration,
    dev_integrations,
    known_region,
    load_integrations_file,
    parse_integrations,
)


class ChatIngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHAT_INGEST_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = Field("chat_ingest", description="Name in logs and the CloudEvents source.")
    log_format: Literal["json", "text"] = Field(
        "json",
        validation_alias=AliasChoices("CHAT_INGEST_LOG_FORMAT", "LOG_FORMAT", "log_format"),
        description="json: one object per line; text for `omnidesk dev up` (LOG_FORMAT works too).",
    )
    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings,
        description="Kafka connection and topic names, read from KAFKA_* variables.",
    )
    http_host: str = Field(
        "127.0.0.1", description="Bind address of the webhook server (0.0.0.0 in a container)."
    )
    state_dir: Path = Field(
        default_factory=lambda: default_home() / "chat_ingest",
        description="Where `omnidesk chat quarantine replay` keeps its ledger (replays.db).",
    )
    blob_dir: Path | None = Field(
        None,
        description="Blob store for chat media fetched from the provider (Telegram, WhatsApp,"
        " Slack, LINE); the"
        " router's ROUTER_BLOB_DIR. Unset: attachments stay provider references.",
    )
    media_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Larger chat media are not fetched (reference kept)."
    )
    media_types: list[str] = Field(
        default_factory=lambda: ["image/", "application/pdf", "audio/", "video/"],
        description="Declared media types fetched (a trailing '/' matches the family).",
    )
    http_port: int = Field(8081, ge=0, le=65535, description="Port of the webhook server.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the port (uvicorn workers), each with its own "
        "Kafka producer. One process uses about one core: run one per core you give the "
        "service (services/chat_ingest/README.md, Performance).",
    )
    integrations: Annotated[list[Integration], NoDecode] = Field(
        default_factory=list,
        description="JSON list of integrations: id, provider, secret, routing{queue,…}.",
    )
    integrations_file: Path | None = Field(
        None, description="YAML/JSON file with a list of integrations (added to the above)."
    )
    dev_integrations_when_empty: bool = Field(
        False,
        description="With no integrations configured, serve built-in development "
        "integrations with PUBLIC secrets (`omnidesk dev up` sets it). Never in production.",
    )
    default_region: str = Field(
        "KR", description="Region for phone numbers without a country code (ISO 3166 alpha-2)."
    )
    max_body_bytes: int = Field(
        3_500_000, gt=0, description="Larger webhook bodies get 413 (WhatsApp sends up to 3 MB)."
    )
    trust_forwarded_headers: bool = Field(
        False, description="Rebuild the public URL from X-Forwarded-* (only behind your proxy)."
    )
    public_base_url: str | None = Field(
        None, description="Public base URL, e.g. https://hooks.example.com (wins over headers)."
    )
    ack_deadline_s: float = Field(
        2.5,
        gt=0,
        description="Longest wait for the Kafka ack before answering 503 (Slack needs < 3 s, "
        "Kakao < 5 s); KAFKA_SEND_TIMEOUT_S also bounds it.",
    )
    publish_linger_ms: int = Field(
        20,
        ge=0,
        le=100,
        description="How long the Kafka producer holds an event for others to share its "
        "produce request (replaces KAFKA_LINGER_MS here). Each answer waits up to this much "
        "more; at a steady 500 requests/s 20 instead of 5 makes a third of the produce "
        "requests and saves ~80 ms of CPU a second, this service's and the broker's "
        "(services/chat_ingest/README.md, Performance).",
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After of 503 answers.")
    max_in_flight: int = Field(
        5_000, ge=1, description="Requests waiting for Kafka at once; more get 503 at once."
    )
    recent_ids: int = Field(
        100_000, ge=0, description="Size of the in-process LRU of recently acked event ids."
    )
    fast_path: bool = Field(
        True,
        description="Dispatch webhook POSTs straight to their endpoint functions, skipping "
        "FastAPI's per-request routing/dependency layer (~0.3 ms of CPU each); same functions, "
        "same answers. false sends everything through FastAPI.",
    )
    slack_tolerance_s: int = Field(300, ge=1, description="Slack timestamp window, seconds.")
    kakao_ack_text_ko: str = Field(
        "메시지를 받았습니다. 상담원이 곧 답변드리겠습니다.",
        description="Kakao skill reply to Korean users.",
    )
    kakao_ack_text_en: str = Field(
        "Thanks, we got your message. An agent will reply shortly.",
        description="Kakao skill reply to other users.",
    )
    kakao_dedupe_window_s: int = Field(
        10, ge=1, description="Kakao has no message id: same user+text within this window = one."
    )
    log_each_event: bool = Field(
        False,
        description="Log every accepted event at INFO (event id, provider, integration, kind; "
        "~38 µs of CPU each). false: one INFO summary per minute, each event at DEBUG.",
    )
    http_keep_alive_s: KeepAliveSeconds = DEFAULT_KEEP_ALIVE_S

    @field_validator("integrations", mode="before")
    @classmethod
    def _parse_integrations(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_integrations(value) if value.strip() else []
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return known_region(value)

    def all_integrations(self) -> list[Integration]:
        from_file = load_integrations_file(self.integrations_file) if self.integrations_file else []
        return [*self.integrations, *from_file]

    def served_integrations(self) -> list[Integration]:
        """What the app serves: the configured ones, else (if allowed) the dev ones."""
        configured = self.all_integrations()
        if configured or not self.dev_integrations_when_empty:
            return configured
        return dev_integrations()
