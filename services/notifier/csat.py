"""Signed CSAT rating links: one link per score, tamper-evident.

The link carries the conversation id, the score, the router's CSAT token and
an HMAC-SHA256 over the three, keyed by ``NOTIFIER_CSAT_SIGNING_SECRET``; the
endpoint that records ratings checks it with :func:`verify_rating_link`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from libs.common.csat_links import SCORES, rating_signature, verify_rating_link

__all__ = ["SCORES", "RatingLink", "rating_links", "rating_signature", "verify_rating_link"]


@dataclass(frozen=True, slots=True)
class RatingLink:
    score: int
    url: str


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
