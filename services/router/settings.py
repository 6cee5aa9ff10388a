"""Router settings: environment variables with the ``ROUTER_`` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from libs.common.csat_links import DEV_CSAT_LINK_SECRET
from libs.common.memory import MemorySettings
from libs.common.privacy.identifiers import PrivacySettings
from libs.common.settings import ServiceSettings, default_home

_SAMPLES = Path(__file__).resolve().parent / "config"


class RouterSettings(ServiceSettings, MemorySettings):
    model_config = SettingsConfigDict(
        env_prefix="ROUTER_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = Field("router", description="Name in logs and metrics.")
    http_host: str = Field("127.0.0.1", description="Bind address of the REST API.")
    http_port: int = Field(8080, ge=1, le=65535, description="Port of the REST API.")
    state_dir: Path = Field(
        default_factory=lambda: default_home() / "router",
        description="Where the embedded SQLite database lives.",
    )
    database_url: str = Field(
        "", description="SQLAlchemy async URL; empty: sqlite+aiosqlite:///<state_dir>/router.db."
    )
    db_pool_size: int = Field(10, ge=1, le=200, description="PostgreSQL connection pool size.")
    migrate_on_start: bool = Field(
        True, description="Run Alembic migrations at start (always done for SQLite)."
    )
    rules_path: Path = Field(_SAMPLES / "rules.yaml", description="Classification rules YAML.")
    policies_path: Path = Field(
        _SAMPLES / "policies.yaml", description="Queues, calendars and SLA policies YAML."
    )
    agents_path: Path = Field(_SAMPLES / "agents.yaml", description="Agents seeded at start.")
    consumer_group: str = Field("router", description="Kafka consumer group.")
    outcome_consumer_group: str = Field(
        "router-outcomes",
        description="Kafka consumer group reading support.notifications.v1 (reply outcomes).",
    )
    assistant_consumer_group: str = Field(
        "router-assistant",
        description="Kafka consumer group reading support.assistant.v1 (the assistant's turns).",
    )
    consumer_max_batch: int = Field(
        400,
        ge=1,
        le=10_000,
        description="Records per transaction; a poll's objects are the router's working set. "
        "100,000 backlog on the idle machine (bench/backlog_recovery.py, one run each): peak "
        "RSS 134.6 / 136.0 / 140.6 MB and router CPU-s per 1,000 0.84 / 0.78 / 0.72 with "
        "300 / 400 / 500; at load 7-9, 500 peaked at 148.3 MB, so 400 keeps room below 150.",
    )
    consumer_fetch_max_wait_ms: int = Field(
        100,
        ge=0,
        le=500,
        description="The longest the broker holds the interactions consumer's fetch for "
        "KAFKA_FETCH_MIN_BYTES, in place of KAFKA_FETCH_MAX_WAIT_MS (which the router's other "
        "consumers keep). A poll costs the router a transaction, a relay round and a produce "
        "request (~6 CPU-ms on the 2-core bench machine under load) whatever it holds: at "
        "pipeline rates a longer wait makes fewer, larger polls, for up to this much more "
        "latency. bench.pipeline (router_poll_split, 2 runs each, load 10-18): router CPU-s "
        "per 1,000 POSTs at 25/s 10.05 / 7.63 / 5.65 and at 100/s 2.91 / 2.53 / 2.01 with "
        "20 / 50 / 100 ms (polls/s at 100/s: 16.4 / 10.3 / 8.0). 100 since stop 28, with the "
        "notifier's fuller fetches and chat_ingest's 20 ms linger (docs/performance.md).",
    )
    consumer_fetch_min_bytes: int = Field(
        32_768,
        ge=1,
        description="The interactions consumer's own KAFKA_FETCH_MIN_BYTES: the broker "
        "answers its fetch once this much is waiting or ROUTER_CONSUMER_FETCH_MAX_WAIT_MS "
        "passed, so a fetch waits less the faster interactions come. 32 KiB is ~26 of the "
        "benches' interactions (~1.25 KB a record): below ~260/s the max wait ends every "
        "fetch first, as with the shared 64 KiB (bench.router_paced_cpu, 3 interleaved "
        "pairs, load 12-16: polls 7.4-7.9 a second at 25/s and at 100/s either way, router "
        "CPU-s per 1,000 2.55-2.9 / 0.96-1.28 against 2.75-2.8 / 1.05-1.10); at 500 and "
        "1,000/s it halves the fetch wait (bench.router_fetch_wait, polls of the router's "
        "length: p50 60 -> 31-37 ms at 500/s and 41 -> 22 ms at 1,000/s) for twice the polls "
        "(10 -> 18 and 16 -> 31 a second: ~7 ms of router CPU each under load).",
    )
    reopen_window_minutes: int = Field(
        7 * 24 * 60, ge=0, description="A resolved conversation reopens within this window."
    )
    phone_window_minutes: int = Field(
        120, ge=0, description="Calls from one number within this window share a conversation."
    )
    chat_window_minutes: int = Field(
        24 * 60, ge=0, description="Chat without a thread id joins the customer's recent chat."
    )
    sticky_assignment: bool = Field(True, description="Prefer the customer's previous agent.")
    requeue_on_offline: bool = Field(True, description="Re-queue work of agents going offline.")
    pg_send_ahead_every: int = Field(
        200,
        ge=0,
        le=10_000,
        description="PostgreSQL: a routed poll's append-only rows are sent every this many "
        "interactions while the rest of the poll is decided, written by the server meanwhile "
        "(foreign keys checked at COMMIT), and the last part in halves down to a quarter of "
        "it, so that the commit waits for few; 0: all at the commit. Each send costs the router "
        "~6 K instructions an interaction of a poll of 400 (callgrind: one send 639.3 -> "
        "645.6 K, three 661.8 K); it pays where the server has a core the router is not using.",
    )
    pg_statistics_check_s: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="PostgreSQL: how often the router looks for routing tables with rows that "
        "the server never analyzed (a new database, or after pg_upgrade or a restore) and "
        "analyzes them once; autovacuum keeps their statistics after. Without statistics a "
        "poll's reads scan whole tables until autovacuum's first round. 60 times less often "
        "once all have statistics; 0: never.",
    )
    scheduler_interval_s: float = Field(1.0, gt=0, le=60, description="Timer loop period.")
    scheduler_batch: int = Field(200, ge=1, le=10_000, description="Timers fired per round.")
    relay_interval_s: float = Field(0.2, gt=0, le=60, description="Outbox poll period.")
    relay_batch: int = Field(500, ge=1, le=10_000, description="Outbox rows published per round.")
    bootstrap_admin_key: SecretStr | None = Field(
        None, description="An admin API key accepted at start (stored hashed)."
    )
    dev_mode: bool | None = Field(
        None,
        description="Create and log a development admin key when no key exists; "
        "unset: on for SQLite (the embedded one-machine setup), off for PostgreSQL.",
    )
    csat_secret: SecretStr | None = Field(
        None, description="HMAC key for CSAT rating links (>= 16 chars); random per start if unset."
    )
    csat_token_days: int = Field(14, ge=1, le=365, description="How long a rating link is valid.")
    csat_link_secret: SecretStr = Field(
        SecretStr(DEV_CSAT_LINK_SECRET),
        description="The notifier's NOTIFIER_CSAT_SIGNING_SECRET: checks the `sig` of rating "
        "links (GET /csat). Set the same value in both services.",
    )
    privacy: PrivacySettings = Field(
        default_factory=PrivacySettings,
        description="PRIVACY_HASH_KEY: hashes in the erasure requests the router publishes.",
    )
    retention_days: int = Field(
        365,
        ge=1,
        description="Message text, subjects, reply text and CSAT comments of conversations "
        "resolved longer ago are blanked; counts, timings and SLA figures stay.",
    )
    retention_interval_s: float = Field(
        3600, gt=0, description="How often the scheduler runs the retention job."
    )
    outbox_keep_hours: int = Field(
        24,
        ge=1,
        description="Published outbox rows (full copies of routing events) are deleted after this.",
    )
    blob_dirs: list[Path] = Field(
        default_factory=list,
        description="Blob stores the ingest services write attachments to (EMAIL_INGEST_BLOB_DIR,"
        " CHAT_INGEST_BLOB_DIR; JSON list); empty: attachments are listed, not downloadable.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses/networks of reverse proxies whose X-Forwarded-For the audit "
        'trail believes (JSON list, e.g. ["10.0.0.0/8"]); empty: the peer address is used.',
    )
    consumer_partition_fetch_kb: int = Field(
        512,
        ge=16,
        le=16_384,
        description="Most interaction bytes fetched ahead per partition (aiokafka's "
        "max_partition_fetch_bytes, default 1,024): fetched records wait in memory until "
        "polled, so the router holds up to partitions x this. 512 KB is ~400 interactions "
        "of ~1.2 KB, close to a poll's share of a 3-partition topic.",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("database_url must use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("csat_secret", "bootstrap_admin_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("secrets must be at least 16 characters")
        return value

    @field_validator("rules_path", "policies_path", "agents_path")
    @classmethod
    def _file_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @model_validator(mode="after")
    def _default_database(self) -> RouterSettings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.state_dir / 'router.db'}"
        return self

    @property
    def creates_dev_key(self) -> bool:
        return self.is_sqlite if self.dev_mode is None else self.dev_mode

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
