"""Settings shared by every service (pydantic-settings, environment only).

Kafka settings read ``KAFKA_*`` variables; each service's own class reads
its prefix (``ROUTER_``, ``CHAT_INGEST_`` …) and embeds these. Secrets are
``SecretStr`` so they never appear in logs or reprs. An empty variable counts
as unset (``env_ignore_empty``), so ``deploy/.env.example`` copied as is works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    """Where omnidesk keeps local state (broker data, SQLite files, checkpoints)."""
    return Path(os.environ.get("OMNIDESK_HOME", Path.home() / ".local/share/omnidesk"))


#: Records on the event topics name customers and quote them; a week covers a
#: weekend outage plus a replay, and is how long erased data may linger there.
PERSONAL_DATA_RETENTION_MS = 7 * 24 * 3600 * 1000


class TopicSettings(BaseSettings):
    """Topic names, partitions and replication (architecture §2)."""

    model_config = SettingsConfigDict(
        env_prefix="KAFKA_TOPIC_", extra="ignore", env_ignore_empty=True
    )

    interactions: str = Field(
        "support.interactions.v1", description="Unified interactions (ingest → router)."
    )
    routing: str = Field("support.routing.v1", description="Routing events (router → notifier).")
    notifications: str = Field(
        "support.notifications.v1", description="What the notifier sent, suppressed or failed."
    )
    deadletter: str = Field(
        "support.deadletter.v1", description="Records that could not be processed."
    )
    assistant: str = Field(
        "support.assistant.v1", description="Assistant answers, handoffs and resolutions."
    )
    privacy: str = Field(
        "support.privacy.v1",
        description="Erasure requests (compacted: no time retention, no personal data).",
    )
    partitions: int = Field(6, ge=1, description="Partitions for each topic created by omnidesk.")
    replication_factor: int = Field(1, ge=1, description="3 in production clusters.")
    min_insync_replicas: int | None = Field(None, ge=1, description="min.insync.replicas if set.")
    retention_ms: int | None = Field(
        PERSONAL_DATA_RETENTION_MS,
        description=(
            "retention.ms of every topic but the compacted privacy topic: their records hold"
            " personal data (addresses, names, text) until then."
        ),
    )

    def all_names(self) -> list[str]:
        return [
            self.interactions,
            self.routing,
            self.notifications,
            self.deadletter,
            self.assistant,
            self.privacy,
        ]


class KafkaSettings(BaseSettings):
    """Connection to the Kafka cluster; passed through to aiokafka."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", env_ignore_empty=True)

    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with SASL_*."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret).")
    ssl_cafile: str | None = Field(None, description="CA bundle for SSL / SASL_SSL.")
    ssl_certfile: str | None = Field(None, description="Client certificate for mutual TLS.")
    ssl_keyfile: str | None = Field(None, description="Private key of the client certificate.")
    request_timeout_ms: int = Field(30_000, description="aiokafka request timeout.")
    send_timeout_s: float = Field(
        10.0, gt=0, description="How long an ingest waits for the broker's ack before giving up."
    )
    linger_ms: int = Field(2, ge=0, description="Producer batching delay.")
    fetch_min_bytes: int = Field(
        65_536,
        ge=1,
        description=(
            "Consumers: the broker answers a fetch once this much is waiting (or "
            "KAFKA_FETCH_MAX_WAIT_MS passed). Records arriving one at a time are handled "
            "a few per transaction instead of one: a poll's fixed cost (transaction, "
            "offset commit, relay round) is paid once for several. After a poll that "
            "found nothing a consumer asks for the first byte instead, until records flow."
        ),
    )
    fetch_max_wait_ms: int = Field(
        20,
        ge=0,
        le=500,
        description=(
            "Consumers: the longest the broker holds a fetch for KAFKA_FETCH_MIN_BYTES "
            "(the most a record waits for company; 0 answers at once). After a poll that "
            "found nothing a consumer's fetch is held up to 500 ms for the first byte "
            "instead (the idle fetch mode: two fetches a second)."
        ),
    )
    topics: TopicSettings = Field(default_factory=TopicSettings)

    @field_validator("bootstrap_servers")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("KAFKA_BOOTSTRAP_SERVERS must name at least one host:port")
        return ",".join(servers)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments common to aiokafka producers, consumers and admin."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options


class ServiceSettings(BaseSettings):
    """Base of every service's settings class: logging, probes, Kafka."""

    # An empty variable (`NAME=` in a copied .env.example) means "unset": the default applies.
    model_config = SettingsConfigDict(
        extra="ignore", env_nested_delimiter="__", env_ignore_empty=True
    )

    service_name: str = "omnidesk"
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR.")
    log_format: Literal["json", "text"] = Field("json", description="json: one object per line.")
    probe_host: str = Field("127.0.0.1", description="Bind address of the health/metrics server.")
    probe_port: int = Field(0, ge=0, description="Health/metrics port of non-HTTP services.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level
