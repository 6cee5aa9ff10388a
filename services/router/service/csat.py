"""Signed CSAT rating tokens: ``<conversation id>.<expiry>.<hmac>``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta


class InvalidToken(ValueError):
    """Forged or malformed: 403."""


class TokenExpired(InvalidToken):
    """Genuine but past its validity (ROUTER_CSAT_TOKEN_DAYS): 410."""


class CsatSigner:
    def __init__(self, secret: bytes, *, valid_for: timedelta = timedelta(days=14)) -> None:
        if len(secret) < 16:
            raise ValueError("CSAT secret must be at least 16 bytes")
        self._secret = secret
        self._valid_for = valid_for

    @property
    def valid_for(self) -> timedelta:
        return self._valid_for

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def sign(self, conversation_id: str, now: datetime) -> str:
        payload = f"{conversation_id}.{int((now + self._valid_for).timestamp())}"
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, now: datetime) -> str:
        """The conversation id, if the token is genuine and not expired."""
        try:
            conversation_id, expiry, mac = token.rsplit(".", 2)
            expires = int(expiry)
        except ValueError:
            raise InvalidToken("malformed token") from None
        if not hmac.compare_digest(mac, self._mac(f"{conversation_id}.{expiry}")):
            raise InvalidToken("bad signature")
        if now.timestamp() > expires:
            raise TokenExpired("token expired")
        return conversation_id
