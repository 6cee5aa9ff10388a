"""Webhook signature checks, all constant-time (``hmac.compare_digest``).

Each ``*_signature`` function computes what the provider sends; each
``verify_*`` function compares a presented value with it and returns a bool.
Callers turn ``False`` into :class:`~libs.common.webhooks.errors.BadSignature`.
Facts and published test vectors: ``PROVIDERS.md``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

#: Slack rejects requests whose timestamp is further than this from now.
SLACK_TOLERANCE_S = 300

FormParams = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def constant_time_equals(expected: str | bytes, presented: str | bytes | None) -> bool:
    """``hmac.compare_digest`` that accepts None and mixed str/bytes."""
    if presented is None:
        return False
    return hmac.compare_digest(_key(expected), _key(presented))


# --- HMAC-SHA256 of the raw body (WhatsApp Cloud API, LINE, our web chat) ---


@functools.lru_cache(maxsize=256)
def _keyed_hmac(secret: str | bytes, digest: str = "sha256") -> Any:
    """HMAC-SHA256 (or ``digest``: Twilio's SHA-1) keyed once per key; an HMAC is then a
    copy of it fed the body.
    ``hmac.new(key, body, sha256)`` keys a new one for every call (Python's HMAC class
    over two hash objects): 8.7 → 5.3 µs per HMAC of a 600-byte body (timeit, load ~7),
    and a web-chat request makes two (signature, visitor token). A few keys (one per
    integration), so a small cache; a rotated key is simply a new one.

    The standard library's ``hmac.HMAC`` over OpenSSL (by the digest's name) holds
    OpenSSL's own HMAC object in ``_hmac``: that one is copied, fed and read here, the
    same digest without the wrapper's four Python calls (``copy``, ``_current``,
    ``update``, ``digest``) per HMAC: 36.6 → 33.1 K instructions for a 700-byte body
    (callgrind). Without it (no OpenSSL HMAC) the wrapper, as before."""
    wrapper = hmac.new(_key(secret), digestmod=digest)
    return getattr(wrapper, "_hmac", None) or wrapper


def hmac_sha256(secret: str | bytes, body: bytes) -> bytes:
    """``hmac.new(secret, body, hashlib.sha256).digest()``, the same bytes, cheaper."""
    mac = _keyed_hmac(secret).copy()
    mac.update(body)
    return mac.digest()


def hmac_sha256_hex(secret: str | bytes, body: bytes) -> str:
    return hmac_sha256(secret, body).hex()


def hmac_sha256_base64(secret: str | bytes, body: bytes) -> str:
    return base64.b64encode(hmac_sha256(secret, body)).decode()


def verify_hmac_sha256(
    secret: str | bytes,
    body: bytes,
    presented: str | None,
    *,
    encoding: str = "hex",
    prefix: str | None = None,
) -> bool:
    """Check ``[prefix]`` + hex/base64 HMAC-SHA256 of the raw body.

    With ``prefix`` (``"sha256="`` for WhatsApp) the prefix is required; hex
    comparison ignores case.
    """
    if not presented:
        return False
    value = presented.strip()
    if prefix is not None:
        if not value.startswith(prefix):
            return False
        value = value[len(prefix) :]
    if encoding == "hex":
        # ``constant_time_equals(hmac_sha256_hex(secret, body), value.lower())`` without its
        # three Python calls (and ``_key``'s type checks of two known ``str``s): the same
        # constant-time compare of the same bytes, once a signed web-chat request
        expected = hmac_sha256(secret, body).hex().encode()
        return hmac.compare_digest(expected, value.lower().encode())
    if encoding == "base64":
        return _base64_digest_equals(hmac_sha256(secret, body), value)
    raise ValueError(f"unknown signature encoding {encoding!r}")


def _base64_digest_equals(digest: bytes, presented: str) -> bool:
    try:
        decoded = base64.b64decode(presented, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(digest, decoded)


# --- Slack v0 ---


def slack_signature(signing_secret: str | bytes, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac_sha256(signing_secret, base).hex()


def slack_timestamp_fresh(
    timestamp: str | None, *, now: float | None = None, tolerance_s: int = SLACK_TOLERANCE_S
) -> bool:
    if not timestamp:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    return abs(current - sent) <= tolerance_s


def verify_slack(
    signing_secret: str | bytes,
    *,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    now: float | None = None,
    tolerance_s: int = SLACK_TOLERANCE_S,
) -> bool:
    """``X-Slack-Signature`` over ``v0:{timestamp}:{body}``, timestamp within the window."""
    if not signature or not slack_timestamp_fresh(timestamp, now=now, tolerance_s=tolerance_s):
        return False
    assert timestamp is not None
    return constant_time_equals(slack_signature(signing_secret, timestamp, body), signature)


# --- Twilio (URL + sorted form parameters, HMAC-SHA1, base64) ---


def _pairs(params: FormParams) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            values = [value] if isinstance(value, str) else list(value)
            pairs.extend((key, v) for v in values)
        return pairs
    return list(params)


def twilio_signature(auth_token: str | bytes, url: str, params: FormParams = ()) -> str:
    """base64(HMAC-SHA1(token, url + key+value for keys sorted, distinct values sorted)).

    Like the official SDKs, a value repeated under the same key counts once.
    """
    return _twilio_digest(auth_token, url, _twilio_signed_params(_pairs(params)))


def _twilio_signed_params(pairs: Iterable[tuple[str, str]]) -> bytes:
    """What Twilio signs after the URL; it does not depend on the URL, so a check of
    several URL variants builds it once."""
    grouped: dict[str, set[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, set()).add(value)
    return "".join(
        key + value for key in sorted(grouped) for value in sorted(grouped[key])
    ).encode()


def _twilio_digest(auth_token: str | bytes, url: str, signed_params: bytes) -> str:
    mac = _keyed_hmac(auth_token, "sha1").copy()  # = hmac.new(token, data, sha1)
    mac.update(url.encode())
    mac.update(signed_params)
    return base64.b64encode(mac.digest()).decode()


def twilio_url_variants(url: str) -> list[str]:
    """The URL as given, plus with/without the scheme's default port (as the SDK tries)."""
    return list(_twilio_url_variants(url))


@functools.lru_cache(maxsize=256)
def _twilio_url_variants(url: str) -> tuple[str, ...]:
    """Cached: a route's callbacks all come to the same few URLs (~10 µs of urlsplit and
    urlunsplit each time)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # not a URL we can vary; verify it as given
        return (url,)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    if default_port is None or parts.hostname is None or port not in (None, default_port):
        return (url,)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    without = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default_port}"))
    return (url, *(v for v in (without, with_port) if v != url))


def verify_twilio(
    auth_token: str | bytes, url: str, params: FormParams, signature: str | None
) -> bool:
    """Form-encoded callback: try the URL with and without the default port."""
    if not signature:
        return False
    signed_params = _twilio_signed_params(_pairs(params))
    matches = [
        constant_time_equals(_twilio_digest(auth_token, candidate, signed_params), signature)
        for candidate in _twilio_url_variants(url)
    ]
    return any(matches)


def verify_twilio_json(
    auth_token: str | bytes, url: str, body: bytes, signature: str | None
) -> bool:
    """JSON callback: the URL carries ``bodySHA256``; Twilio signs the URL alone."""
    if not signature:
        return False
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    body_hash = query.get("bodySHA256")
    if body_hash is None:
        return False
    if not constant_time_equals(hashlib.sha256(body).hexdigest(), body_hash.lower()):
        return False
    return verify_twilio(auth_token, url, (), signature)


# --- Shared tokens and HTTP basic auth ---


def verify_shared_token(expected: str | bytes, presented: str | None) -> bool:
    """A token in a header, query parameter or path segment (Telegram, Kakao, CTI)."""
    if not presented or not expected:
        return False
    return constant_time_equals(expected, presented)


def verify_basic_auth(authorization: str | None, *, username: str, password: str) -> bool:
    """``Authorization: Basic …``; both parts compared in constant time."""
    if not authorization:
        return False
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    given_user, sep, given_password = decoded.partition(":")
    if not sep:
        return False
    user_ok = constant_time_equals(username, given_user)
    password_ok = constant_time_equals(password, given_password)
    return user_ok and password_ok
