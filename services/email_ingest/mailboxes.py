"""Mailbox configuration: where to log in, what to watch, what to do after the ack.

Mailboxes come from ``EMAIL_INGEST_MAILBOXES`` (a JSON list) and/or the YAML
or JSON file named by ``EMAIL_INGEST_MAILBOXES_FILE`` (a list, or a mapping
with a ``mailboxes`` list). Example (YAML)::

    mailboxes:
      - id: support-kr
        host: imap.gmail.com
        username: support@example.co.kr
        auth: xoauth2
        oauth2_token_command: /usr/local/bin/fetch-gmail-token support@example.co.kr
        folders: [INBOX]
        post_action: flag          # keep | flag | move | delete
        quarantine_folder: Quarantine
        routing: {queue: korean, language: ko}
      - id: support-en
        host: outlook.office365.com
        username: help@example.com
        auth: xoauth2
        oauth2_token_file: /run/secrets/m365-token
        post_action: move
        move_to: Processed
"""

from __future__ import annotations

import ipaddress
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from libs.common.events import RoutingHints

_MAILBOX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class TlsMode(StrEnum):
    IMPLICIT = "implicit"  # TLS from the first byte, port 993
    STARTTLS = "starttls"  # plain connect, then STARTTLS before login, port 143
    PLAIN = "plain"  # no TLS: refused unless the host is loopback or allow_plaintext is set


class AuthMethod(StrEnum):
    PASSWORD = "password"  # noqa: S105 -- IMAP LOGIN, the method name, not a secret
    XOAUTH2 = "xoauth2"  # SASL XOAUTH2 bearer token (Gmail, Microsoft 365)
    OAUTHBEARER = "oauthbearer"  # SASL OAUTHBEARER, RFC 7628 (Gmail; not Microsoft 365)


class PostAction(StrEnum):
    KEEP = "keep"
    FLAG = "flag"
    MOVE = "move"
    DELETE = "delete"


class MailboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., description="Stable mailbox id: event integration and checkpoint key.")
    host: str = Field(..., description="IMAP server host name.")
    port: int | None = Field(None, ge=1, le=65535, description="Default 993 (implicit) / 143.")
    tls: TlsMode = Field(TlsMode.IMPLICIT, description="implicit, starttls or plain (loopback).")
    allow_plaintext: bool = Field(
        False,
        description="Allow tls=plain to a non-loopback host (e.g. an in-network mail server);"
        " logged as a warning at start.",
    )
    tls_verify: bool = Field(True, description="Verify the server certificate and host name.")
    ca_file: Path | None = Field(None, description="CA bundle for a private server certificate.")
    username: str = Field(..., description="Login name.")
    auth: AuthMethod = Field(
        AuthMethod.PASSWORD, description="password, xoauth2 or oauthbearer (both OAuth2 bearer)."
    )
    password: SecretStr | None = Field(None, description="Password (prefer a file or command).")
    password_file: Path | None = Field(None, description="File whose first line is the password.")
    password_command: str | None = Field(None, description="Command that prints the password.")
    oauth2_token_file: Path | None = Field(
        None, description="File holding a current OAuth2 access token (re-read on each login)."
    )
    oauth2_token_command: str | None = Field(
        None, description="Command printing a current OAuth2 access token (run on each login)."
    )
    oauth2_token_endpoint: str | None = Field(
        None,
        description="OAuth2 token endpoint for the built-in refresh-token grant, e.g."
        " https://oauth2.googleapis.com/token or"
        " https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token.",
    )
    oauth2_client_id: str | None = Field(None, description="OAuth2 client (application) id.")
    oauth2_client_secret: SecretStr | None = Field(
        None, description="OAuth2 client secret (prefer oauth2_client_secret_file)."
    )
    oauth2_client_secret_file: Path | None = Field(
        None, description="File whose first line is the OAuth2 client secret."
    )
    oauth2_refresh_token: SecretStr | None = Field(
        None, description="OAuth2 refresh token (prefer oauth2_refresh_token_file)."
    )
    oauth2_refresh_token_file: Path | None = Field(
        None,
        description="File whose first line is the refresh token; re-read when a grant was"
        " refused, so replacing it recovers the mailbox without a restart.",
    )
    oauth2_scope: str | None = Field(
        None,
        description="Scope sent with the refresh (Microsoft 365:"
        " https://outlook.office.com/IMAP.AccessAsUser.All offline_access).",
    )
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], description="Folders to watch.")
    post_action: PostAction = Field(PostAction.KEEP, description="After Kafka acked the event.")
    flag: str = Field("\\Seen", description="Flag or keyword set by post_action=flag.")
    move_to: str | None = Field(None, description="Target folder of post_action=move.")
    quarantine_folder: str | None = Field(
        None, description="Unparseable mail is moved here (else left where it is, unflagged)."
    )
    start_from: Literal["all", "new"] = Field(
        "all", description="First run: ingest all mail in the folder, or only mail that arrives."
    )
    routing: RoutingHints = Field(default_factory=RoutingHints, description="Router defaults.")

    @model_validator(mode="after")
    def _consistent(self) -> MailboxConfig:
        if not _MAILBOX_ID.match(self.id):
            raise ValueError(f"mailbox id {self.id!r}: letters, digits and ._@+- only")
        if self.tls is TlsMode.PLAIN and not _is_loopback(self.host) and not self.allow_plaintext:
            raise ValueError(
                f"mailbox {self.id}: tls=plain is allowed for loopback hosts only"
                " (set allow_plaintext: true to accept it for this mailbox)"
            )
        if self.post_action is PostAction.MOVE and not self.move_to:
            raise ValueError(f"mailbox {self.id}: post_action=move needs move_to")
        if not self.folders:
            raise ValueError(f"mailbox {self.id}: folders must name at least one folder")
        self._check_credentials()
        return self

    def _check_credentials(self) -> None:
        if self.uses_oauth2:
            sources = [self.oauth2_token_file, self.oauth2_token_command, self.refreshes_oauth2]
            if sum(1 for source in sources if source) != 1:
                raise ValueError(
                    f"mailbox {self.id}: {self.auth.value} needs exactly one of oauth2_token_file,"
                    " oauth2_token_command or the refresh grant (oauth2_token_endpoint,"
                    " oauth2_client_id, oauth2_refresh_token[_file])"
                )
            has_refresh_token = self.oauth2_refresh_token or self.oauth2_refresh_token_file
            if self.refreshes_oauth2 and not (self.oauth2_client_id and has_refresh_token):
                raise ValueError(
                    f"mailbox {self.id}: oauth2_token_endpoint needs oauth2_client_id and"
                    " oauth2_refresh_token or oauth2_refresh_token_file"
                )
            if self.oauth2_token_endpoint and not _secure_url(self.oauth2_token_endpoint):
                raise ValueError(
                    f"mailbox {self.id}: oauth2_token_endpoint must be https (http: loopback only)"
                )
        elif not (self.password or self.password_file or self.password_command):
            raise ValueError(f"mailbox {self.id}: password, password_file or password_command")

    @property
    def refreshes_oauth2(self) -> bool:
        """The built-in refresh-token grant fetches the access tokens of this mailbox."""
        return self.uses_oauth2 and self.oauth2_token_endpoint is not None

    @property
    def uses_oauth2(self) -> bool:
        return self.auth in (AuthMethod.XOAUTH2, AuthMethod.OAUTHBEARER)

    @property
    def sends_credentials_in_clear(self) -> bool:
        """Plain IMAP to a host other than this machine: passwords cross the network."""
        return self.tls is TlsMode.PLAIN and not _is_loopback(self.host)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.tls is TlsMode.IMPLICIT else 143


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secure_url(url: str) -> bool:
    parsed = urlsplit(url)
    if parsed.scheme == "https":
        return bool(parsed.hostname)
    return parsed.scheme == "http" and _is_loopback(parsed.hostname or "")


def parse_mailboxes(value: Any) -> list[Any]:
    """``EMAIL_INGEST_MAILBOXES``: a JSON list (or mapping with ``mailboxes``)."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    if isinstance(value, dict):
        value = value.get("mailboxes", [])
    return list(value)


def load_mailboxes_file(path: Path) -> list[MailboxConfig]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [MailboxConfig.model_validate(item) for item in parse_mailboxes(data)]
