"""Signed CSAT rating links, shared by the notifier (signs) and the router (checks).

A link carries the conversation id ``c``, the score ``s``, the router's CSAT token
``t`` (itself signed by the router, with an expiry) and ``sig`` = HMAC-SHA256 over
``c \\x1f s \\x1f t`` keyed by the link secret (``NOTIFIER_CSAT_SIGNING_SECRET`` =
``ROUTER_CSAT_LINK_SECRET``), so a score in a link cannot be changed unnoticed.
"""

from __future__ import annotations

from libs.common.webhooks.signatures import constant_time_equals, hmac_sha256_hex

SCORES = (1, 2, 3, 4, 5)

#: The development default of both settings; the notifier refuses it off loopback.
DEV_CSAT_LINK_SECRET = "dev-only-csat-secret"  # noqa: S105 - a marker, not a secret


def rating_signature(secret: str, conversation_id: str, score: int, token: str | None) -> str:
    message = f"{conversation_id}\x1f{score}\x1f{token or ''}".encode()
    return hmac_sha256_hex(secret, message)


def verify_rating_link(
    secret: str, conversation_id: str, score: int, token: str | None, signature: str | None
) -> bool:
    if score not in SCORES:
        return False
    expected = rating_signature(secret, conversation_id, score, token)
    return constant_time_equals(expected, signature)
