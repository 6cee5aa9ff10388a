"""Passwords and OAuth2 bearer tokens, read fresh at every login.

Tokens from Google and Microsoft live about an hour. Either the built-in
refresh grant (``services.email_ingest.oauth2``, cached per mailbox) fetches
them, or a file that a sidecar refreshes / a command that prints a current
token is consulted on each (re)connect.
"""

from __future__ import annotations

import asyncio
import shlex
from datetime import datetime
from pathlib import Path
from typing import Protocol

from services.email_ingest.mailboxes import MailboxConfig

SECRET_COMMAND_TIMEOUT_S = 30.0


class CredentialError(RuntimeError):
    """The configured secret could not be read (missing file, failing command)."""


async def read_secret(config: MailboxConfig) -> str:
    if config.uses_oauth2:
        return await _first_of(config.id, config.oauth2_token_file, config.oauth2_token_command)
    if config.password is not None:
        return config.password.get_secret_value()
    return await _first_of(config.id, config.password_file, config.password_command)


class AccessTokenSource(Protocol):
    async def access_token(self) -> str: ...

    @property
    def renew_at(self) -> datetime | None: ...


class MailboxCredentials:
    """What a watcher logs in with: the OAuth2 refresher's token, or the configured secret."""

    def __init__(self, config: MailboxConfig, refresher: AccessTokenSource | None = None) -> None:
        self.config = config
        self.refresher = refresher

    async def secret(self) -> str:
        if self.refresher is not None:
            return await self.refresher.access_token()
        return await read_secret(self.config)

    def renew_at(self) -> datetime | None:
        """When a session logged in with the last secret should log in again (OAuth2)."""
        return self.refresher.renew_at if self.refresher is not None else None


async def read_first_line(mailbox_id: str, path: Path) -> str:
    return await asyncio.to_thread(_read_file, mailbox_id, path)


async def _first_of(mailbox_id: str, path: Path | None, command: str | None) -> str:
    if path is not None:
        return await read_first_line(mailbox_id, path)
    if command is not None:
        return await _run_command(mailbox_id, command)
    raise CredentialError(f"mailbox {mailbox_id}: no secret configured")


def _read_file(mailbox_id: str, path: Path) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise CredentialError(f"mailbox {mailbox_id}: cannot read {path}: {exc}") from exc
    if not secret:
        raise CredentialError(f"mailbox {mailbox_id}: {path} is empty")
    return secret[0].strip()


async def _run_command(mailbox_id: str, command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *shlex.split(command), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(SECRET_COMMAND_TIMEOUT_S):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise CredentialError(f"mailbox {mailbox_id}: secret command timed out") from None
    if process.returncode != 0:
        # stderr may help; stdout may hold a secret and is never logged
        reason = stderr.decode("utf-8", "replace").strip()[:200]
        raise CredentialError(f"mailbox {mailbox_id}: secret command failed: {reason}")
    lines = stdout.decode("utf-8").strip().splitlines()
    if not lines:
        raise CredentialError(f"mailbox {mailbox_id}: secret command printed nothing")
    return lines[0].strip()
