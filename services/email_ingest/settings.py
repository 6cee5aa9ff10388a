"""Settings of email_ingest (environment only, prefix ``EMAIL_INGEST_``).

Mailboxes: ``EMAIL_INGEST_MAILBOXES`` (JSON list) and/or
``EMAIL_INGEST_MAILBOXES_FILE`` (YAML/JSON file); see
``services.email_ingest.mailboxes`` for the fields and an example.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from libs.common.privacy.identifiers import PrivacySettings
from libs.common.settings import ServiceSettings, default_home
from services.email_ingest.mailboxes import MailboxConfig, load_mailboxes_file, parse_mailboxes
from services.email_ingest.normalise.mail import DEFAULT_MAX_MESSAGE_BYTES
from services.email_ingest.normalise.thread import DEFAULT_SUBJECT_REFERENCE

#: Servers may drop an IDLE after 30 minutes (RFC 2177 §3); re-issue well before.
MAX_IDLE_RENEW_S = 29 * 60


class EmailIngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="EMAIL_INGEST_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = Field(
        "email_ingest", description="Name in logs and the CloudEvents source."
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        validation_alias=AliasChoices("EMAIL_INGEST_LOG_FORMAT", "LOG_FORMAT"),
        description="json: one object per line; text for `omnidesk dev up` (LOG_FORMAT works too).",
    )
    mailboxes: Annotated[list[MailboxConfig], NoDecode] = Field(
        default_factory=list, description="JSON list of mailboxes (see mailboxes.py)."
    )
    mailboxes_file: Path | None = Field(
        None, description="YAML/JSON file with a list of mailboxes (added to the above)."
    )
    state_dir: Path = Field(
        default_factory=lambda: default_home() / "email_ingest",
        description="Checkpoints (SQLite) live here; keep it durable.",
    )
    blob_dir: Path | None = Field(
        None, description="Blob store for raw mail and attachments (default <state_dir>/blobs)."
    )
    max_message_bytes: int = Field(
        DEFAULT_MAX_MESSAGE_BYTES, gt=0, description="Larger mail is quarantined, not parsed."
    )
    own_message_id_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated domains of our outgoing Message-IDs (loop detection).",
    )
    own_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses we send from: mail From them is outbound.",
    )
    subject_reference_pattern: str = Field(
        DEFAULT_SUBJECT_REFERENCE,
        description="Regex with one group: our conversation reference in subjects.",
    )
    idle_renew_s: float = Field(
        5 * 60,
        gt=0,
        le=MAX_IDLE_RENEW_S,
        description="Re-issue IDLE (and re-check UIDVALIDITY) after this many seconds.",
    )
    use_idle: bool = Field(
        True, description="Use IMAP IDLE where the server offers it (false: always poll)."
    )
    poll_interval_s: float = Field(
        30.0, gt=0, description="Polling interval for servers without IDLE."
    )
    recheck_s: float = Field(
        0.1,
        ge=0,
        le=5,
        description="After a look that found mail, look again this much later (NOOP + UID"
        " SEARCH) before going back to IDLE, whose notice servers delay (Dovecot 2.3: 500 ms)."
        " 0: always IDLE at once.",
    )
    command_timeout_s: float = Field(
        30.0, gt=0, description="Upper bound of every IMAP command (aioimaplib can hang)."
    )
    connect_timeout_s: float = Field(20.0, gt=0, description="TCP + TLS + greeting timeout.")
    fetch_batch: int = Field(25, ge=1, le=500, description="Messages fetched per UID FETCH.")
    reconnect_initial_s: float = Field(1.0, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(
        300.0, gt=0, description="Longest reconnect delay (backoff cap)."
    )
    oauth2_refresh_margin_s: float = Field(
        300.0,
        ge=0,
        description="Refresh an OAuth2 access token when less than this is left of its life.",
    )
    oauth2_timeout_s: float = Field(
        20.0, gt=0, description="Upper bound of one request to an OAuth2 token endpoint."
    )
    deadletter_inline_max_bytes: int = Field(
        1_000_000,
        ge=0,
        description="Quarantined mail up to this size also travels as the dead letter's value.",
    )

    handled_retention_days: int = Field(
        365,
        ge=1,
        description="Rows of handled mail older than this are pruned (a resync after that"
        " would publish such a mail again: move or delete handled mail on the server).",
    )
    blob_retention_days: int = Field(
        365,
        ge=1,
        description="Raw mail, attachments and quarantined mail are deleted from the blob store"
        " this many days after the mail arrived (by mail age; see docs/privacy.md).",
    )
    retention_interval_s: float = Field(
        3600.0, gt=0, description="How often the retention job runs inside the service."
    )
    privacy: PrivacySettings = Field(
        default_factory=PrivacySettings,
        description="PRIVACY_HASH_KEY: keyed hashes for erasure (shared by every service).",
    )

    @field_validator("mailboxes", mode="before")
    @classmethod
    def _parse_mailboxes(cls, value: object) -> object:
        return parse_mailboxes(value)

    @field_validator("own_message_id_domains", "own_addresses", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().lower() for item in value.split(",") if item.strip()]
        return value

    @field_validator("subject_reference_pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        if re.compile(value).groups != 1:
            raise ValueError("subject_reference_pattern needs exactly one capturing group")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> EmailIngestSettings:
        ids = [m.id for m in self.all_mailboxes()]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate mailbox ids: {', '.join(duplicates)}")
        return self

    def all_mailboxes(self) -> list[MailboxConfig]:
        from_file = load_mailboxes_file(self.mailboxes_file) if self.mailboxes_file else []
        return [*self.mailboxes, *from_file]

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "checkpoints.sqlite3"

    @property
    def blob_root(self) -> Path:
        return self.blob_dir or self.state_dir / "blobs"
