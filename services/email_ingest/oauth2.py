"""OAuth2 access tokens for IMAP (XOAUTH2) from a refresh token: RFC 6749 §6.

Gmail and Microsoft 365 mailboxes with password login switched off need an
access token that lives about an hour. Each mailbox configured with a token
endpoint gets one :class:`TokenRefresher`: it exchanges the refresh token for
an access token, caches it, and hands out a fresh one once less than the
refresh margin is left, so a (re)login never presents an expiring token.

A refused grant (``invalid_grant``: revoked, expired, password changed;
``invalid_client``: wrong id or secret) will not heal by retrying. The
refresher then raises :class:`GrantRefused` without asking the endpoint
again, until the refresh token it reads changes (an operator replaced the
file): the mailbox stops with a clear error instead of hammering the endpoint.
An unreachable endpoint or a 5xx is :class:`TokenEndpointError`, retried with
the watcher's backoff.

Client authentication: the client secret in the form body
(``client_secret_post``, RFC 6749 §2.3.1), as Google and Microsoft document
for the refresh request; a public client sends only ``client_id``. A
certificate (Microsoft's ``client_assertion``) is not supported.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from libs.common.events.base import utc_now
from services.email_ingest.credentials import CredentialError, read_first_line
from services.email_ingest.mailboxes import MailboxConfig

log = logging.getLogger(__name__)

#: Assumed lifetime when the response has no ``expires_in`` (RECOMMENDED, not REQUIRED).
DEFAULT_LIFETIME_S = 3600
#: RFC 6749 §5.2 error codes that mean "this grant or client will not work": stop.
_PERMANENT_ERRORS = {
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_request",
}


class TokenEndpointError(CredentialError):
    """The token endpoint could not be reached or failed (5xx, 429): retry later."""


class GrantRefused(CredentialError):
    """The endpoint refused the grant or the client for good: the mailbox stops."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_at: datetime

    def usable(self, now: datetime, margin: timedelta) -> bool:
        return now + margin < self.expires_at


@dataclass(frozen=True, slots=True)
class TokenResponse:
    access_token: AccessToken
    #: A rotated refresh token (Microsoft sends one with every refresh), if any.
    refresh_token: str | None


def refresh_form(
    *, refresh_token: str, client_id: str, client_secret: str | None, scope: str | None
) -> dict[str, str]:
    """The request body of RFC 6749 §6 (+ client_secret_post, §2.3.1)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    if client_secret:
        form["client_secret"] = client_secret
    if scope:
        form["scope"] = scope
    return form


def read_token_response(
    mailbox_id: str, status: int, body: bytes, *, now: datetime
) -> TokenResponse:
    """RFC 6749 §5.1 success or §5.2 error → a token, or the right exception."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {}
    if status == 200 and isinstance(payload.get("access_token"), str) and payload["access_token"]:
        token_type = str(payload.get("token_type", "bearer")).lower()
        if token_type != "bearer":  # noqa: S105 -- the RFC 6750 type name, not a secret
            raise GrantRefused(f"mailbox {mailbox_id}: token endpoint issued a {token_type} token")
        lifetime = _lifetime(payload.get("expires_in"))
        rotated = payload.get("refresh_token")
        return TokenResponse(
            AccessToken(payload["access_token"], now + timedelta(seconds=lifetime)),
            rotated if isinstance(rotated, str) and rotated else None,
        )
    error = str(payload.get("error") or "")
    description = str(payload.get("error_description") or "")[:300]
    reason = f"{error}: {description}" if description else error or f"HTTP {status}"
    if 400 <= status < 500 and status != 429 and error in _PERMANENT_ERRORS:
        raise GrantRefused(f"mailbox {mailbox_id}: OAuth2 refresh refused ({reason})")
    raise TokenEndpointError(f"mailbox {mailbox_id}: OAuth2 token endpoint failed ({reason})")


def _lifetime(value: object) -> int:
    try:
        seconds = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_S
    return seconds if seconds > 0 else DEFAULT_LIFETIME_S


class TokenRefresher:
    """The access token of one mailbox: cached, refreshed ahead of expiry, shared
    by its folder watchers (one refresh at a time)."""

    def __init__(
        self,
        config: MailboxConfig,
        *,
        http: httpx.AsyncClient,
        margin: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        assert config.oauth2_token_endpoint and config.oauth2_client_id
        self._config = config
        self._http = http
        self._margin = margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: AccessToken | None = None
        self._rotated: str | None = None
        self._configured_seen: str | None = None
        self._refused: tuple[str, GrantRefused] | None = None
        self.refreshes = 0

    @property
    def renew_at(self) -> datetime | None:
        """When the cached token stops being handed out: a session logged in with it
        ends cleanly before then (Microsoft 365 drops sessions whose token expired)."""
        return self._token.expires_at - self._margin if self._token is not None else None

    @property
    def refused(self) -> GrantRefused | None:
        """Why the grant was refused, while it stays refused."""
        return self._refused[1] if self._refused else None

    async def access_token(self) -> str:
        async with self._lock:
            now = self._clock()
            if self._token is not None and self._token.usable(now, self._margin):
                return self._token.value
            refresh_token = await self._refresh_token()
            if self._refused is not None:
                if self._refused[0] == refresh_token:
                    raise self._refused[1]
                log.info("mailbox %s: refresh token replaced; trying again", self._config.id)
                self._refused = None
            try:
                response = await self._request(refresh_token)
            except GrantRefused as exc:
                self._token = None
                self._refused = (refresh_token, exc)
                raise
            self._token = response.access_token
            if response.refresh_token and response.refresh_token != refresh_token:
                self._rotated = response.refresh_token
            self.refreshes += 1
            log.info(
                "mailbox %s: OAuth2 access token refreshed (valid until %s)",
                self._config.id, self._token.expires_at.isoformat(timespec="seconds"),
            )  # fmt: skip
            return self._token.value

    async def _refresh_token(self) -> str:
        """The configured refresh token, or the rotated one the endpoint sent since.

        A rotated token lives in memory only; after a restart the configured one
        is used again (Microsoft keeps earlier refresh tokens valid until they expire).
        """
        configured = await self._configured_refresh_token()
        if self._rotated and configured == self._configured_seen:
            return self._rotated
        self._configured_seen = configured
        self._rotated = None
        return configured

    async def _configured_refresh_token(self) -> str:
        config = self._config
        if config.oauth2_refresh_token_file is not None:
            return await read_first_line(config.id, config.oauth2_refresh_token_file)
        assert config.oauth2_refresh_token is not None
        return config.oauth2_refresh_token.get_secret_value()

    async def _client_secret(self) -> str | None:
        config = self._config
        if config.oauth2_client_secret_file is not None:
            return await read_first_line(config.id, config.oauth2_client_secret_file)
        secret = config.oauth2_client_secret
        return secret.get_secret_value() if secret is not None else None

    async def _request(self, refresh_token: str) -> TokenResponse:
        config = self._config
        form = refresh_form(
            refresh_token=refresh_token,
            client_id=config.oauth2_client_id or "",
            client_secret=await self._client_secret(),
            scope=config.oauth2_scope,
        )
        try:
            response = await self._http.post(
                config.oauth2_token_endpoint or "",
                data=form,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise TokenEndpointError(
                f"mailbox {config.id}: OAuth2 token endpoint unreachable: {exc!r}"
            ) from exc
        return read_token_response(
            config.id, response.status_code, response.content, now=self._clock()
        )
