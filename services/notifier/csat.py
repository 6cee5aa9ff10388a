"""Signed CSAT rating links: one link per score, tamper-evident.

The link carries the conversation id, the score, the router's CSAT token and
an HMAC-SHA256 over the three, keyed by ``NOTIFIER_CSAT_SIGNING_SECRET``; the
endpoint that records ratings checks it with :func:`verify_rating_link`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from libs.common.webhooks.signatures import constant_time_equals, hmac_sha256_hex

SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True, slots=True)
class RatingLink:
    score: int
    url: str


def rating_signature(secret: str, conversation_id: str, score: int, token: str | None) -> str:
    message = f"{conversation_id}\x1f{score}\x1f{token or ''}".encode()
    return hmac_sha256_hex(secret, message)


def rating_links(
    base_url: str, secret: str, conversation_id: str, token: str | None
) -> list[RatingLink]:
    separator = "&" if "?" in base_url else "?"
    links = []
    for score in SCORES:
        query = {"c": conversation_id, "s": score, "t": token or ""}
        query["sig"] = rating_signature(secret, conversation_id, score, token)
        links.append(RatingLink(score, f"{base_url}{separator}{urlencode(query)}"))
    return links


def verify_rating_link(
    secret: str, conversation_id: str, score: int, token: str | None, signature: str | None
) -> bool:
    if score not in SCORES:
        return False
    expected = rating_signature(secret, conversation_id, score, token)
    return constant_time_equals(expected, signature)
