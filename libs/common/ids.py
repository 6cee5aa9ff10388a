"""Deterministic identifiers.

Every event id is derived from the provider's own id so that a retry, a replay
or a second delivery of the same input always yields the same id (architecture §3).
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace: changing it would change every event id ever produced.
OMNIDESK_NAMESPACE = uuid.UUID("6f6d6e69-6465-736b-8000-000000000001")


def deterministic_id(kind: str, *parts: str | int | None) -> str:
    """A UUIDv5 over ``kind`` and the provider's identifying parts.

    ``kind`` separates id spaces (``email``, ``twilio.sms``, ``slack`` …) so
    two providers that happen to share an id never collide.
    """
    if not parts:
        raise ValueError(f"deterministic_id({kind!r}) needs at least one identifying part")
    name = "\x1f".join([kind, *("" if p is None else str(p) for p in parts)])
    return str(uuid.uuid5(OMNIDESK_NAMESPACE, name))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
