"""Deterministic identifiers.

Every event id is derived from the provider's own id so that a retry, a replay
or a second delivery of the same input always yields the same id (architecture §3).
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace: changing it would change every event id ever produced.
OMNIDESK_NAMESPACE = uuid.UUID("6f6d6e69-6465-736b-8000-000000000001")
_NAMESPACE_BYTES = OMNIDESK_NAMESPACE.bytes


def deterministic_id(kind: str, *parts: str | int | None) -> str:
    """A UUIDv5 over ``kind`` and the provider's identifying parts.

    ``kind`` separates id spaces (``email``, ``twilio.sms``, ``slack`` …) so
    two providers that happen to share an id never collide.
    """
    if not parts:
        raise ValueError(f"deterministic_id({kind!r}) needs at least one identifying part")
    name = "\x1f".join([kind, *("" if p is None else str(p) for p in parts)])
    return _uuid5_text(name)


def _uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(OMNIDESK_NAMESPACE, name))`` without building a UUID object
    (about 2.5x faster; the router derives several ids per interaction it routes)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])  # noqa: S324 - RFC 4122 v5 is SHA-1
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
