"""Signed session cookies and session-bound CSRF tokens (pure functions, stdlib HMAC).

The cookie names the API key the agent signed in with, never the key itself; every
request re-reads that key, so revoking it ends the session at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta


class BadSession(ValueError):
    pass


@dataclass(frozen=True)
class Session:
    key_id: str
    nonce: str
    issued_at: datetime


def _mac(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def new_session(key_id: str, now: datetime) -> Session:
    return Session(key_id=key_id, nonce=secrets.token_urlsafe(16), issued_at=now)


def encode_session(session: Session, secret: bytes) -> str:
    body = json.dumps(
        {"k": session.key_id, "n": session.nonce, "t": session.issued_at.isoformat()},
        separators=(",", ":"),
    ).encode()
    token = base64.urlsafe_b64encode(body).decode().rstrip("=")
    return f"{token}.{_mac(secret, b'session:' + token.encode())}"


def decode_session(cookie: str, secret: bytes, *, now: datetime, max_age: timedelta) -> Session:
    token, _, mac = cookie.partition(".")
    if not hmac.compare_digest(mac, _mac(secret, b"session:" + token.encode())):
        raise BadSession("bad signature")
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        session = Session(body["k"], body["n"], datetime.fromisoformat(body["t"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadSession(f"unreadable session: {exc}") from None
    if not session.issued_at <= now < session.issued_at + max_age:
        raise BadSession("session expired")
    return session


def csrf_token(session: Session, secret: bytes) -> str:
    return _mac(secret, f"csrf:{session.key_id}:{session.nonce}".encode())


def csrf_valid(session: Session, secret: bytes, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(given or "", csrf_token(session, secret))
