"""Deterministic identifiers.

Every event id is derived from the provider's own id so that a retry, a replay
or a second delivery of the same input always yields the same id (architecture §3).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

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
    return _uuid5_text(_sha1(_NAMESPACE_BYTES + _name(kind, parts).encode()).hexdigest())


def _name_digest(kind: str, parts: tuple[str | int | None, ...]) -> bytes:
    """The SHA-1 of the namespace and the name ``kind`` and ``parts`` make, as UUIDv5
    hashes it (RFC 4122 §4.3); ``time_ordered_id`` takes its bits from the same digest."""
    return _sha1(_NAMESPACE_BYTES + _name(kind, parts).encode()).digest()


def _name(kind: str, parts: tuple[str | int | None, ...]) -> str:
    if None in parts:
        return "\x1f".join([kind, *("" if p is None else str(p) for p in parts)])
    return "\x1f".join((kind, *map(str, parts)))  # no generator: ~3 ids per routed interaction


def _uuid5_text(x: str) -> str:
    """``str(uuid.uuid5(OMNIDESK_NAMESPACE, name))`` from the hex digits of the name's
    SHA-1, without building a UUID object: the text sliced, the version and variant
    digits put in as text (as ``time_ordered_id_named``), not the digest's bytes set bit
    by bit and their hex sliced (callgrind, a CTI callback's event id 18.7 -> 15.0 K
    instructions)."""
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT_NIBBLE[x[16]]}{x[17:20]}-{x[20:32]}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_MAX_MILLIS = (1 << 48) - 1


def time_ordered_id(kind: str, at: datetime, *parts: str | int | None) -> str:
    """A UUIDv8 (RFC 9562 §5.8) whose first 48 bits are ``at`` in Unix milliseconds
    (as UUIDv7's) and whose other 74 bits are the UUIDv5 name hash of ``kind`` and
    ``parts`` (as ``deterministic_id``'s, from the same SHA-1 digest).

    For rows written as events arrive (the router's conversations): keys from the
    event's own time append to the right edge of each index instead of landing in a
    random B-tree page each, which on SQLite cost one WAL page per row per index, more
    as the store grew (``bench/store_growth.py``). ``at`` must come from the event
    (its ``received_at``), never the wall clock: a replay of the same event must yield
    the same id. The text form sorts by ``at`` (to the millisecond), as the
    ids of SQLite's and PostgreSQL's text indexes compare. ``time_ordered_id_named``
    is the same id for a name worked out beforehand."""
    if not parts:
        raise ValueError(f"time_ordered_id({kind!r}) needs at least one identifying part")
    if at.tzinfo is None:
        raise ValueError(f"time_ordered_id({kind!r}) needs an aware datetime, got {at!r}")
    return time_ordered_id_named(
        _NAMESPACE_BYTES + (kind + "\x1f").encode(), at, _name("", parts)[1:]
    )


def time_ordered_id_named(prefix: bytes, at: datetime, name: str) -> str:
    """``time_ordered_id(kind, at, *parts)`` for ``prefix = name_prefix(kind)`` (made
    once per kind) and ``name = "\x1f".join(parts)`` (parts that are strings): the
    router's conversation and contact ids, ~1.2 a routed interaction. Written in one
    function: the time's text kept for the last ``at`` (by identity: a new
    interaction's contact and conversation ids are both made at its ``received_at``),
    the id's text sliced from the SHA-1's ``hexdigest``, the version and variant
    digits put in as text. Callgrind, one id at a new time: 23.4 -> 13.6 K
    instructions; at the last one's: 8.2 K. The same ids (``tests/unit/common/
    test_ids.py``)."""
    if at.tzinfo is None:
        raise ValueError(f"time_ordered_id_named needs an aware datetime, got {at!r}")
    last = _last_time
    head = last[1] if last[0] is at else _time_head(at)
    x = _sha1(prefix + name.encode()).hexdigest()
    return f"{head}-8{x[13:16]}-{_VARIANT_NIBBLE[x[16]]}{x[17:20]}-{x[20:32]}"


def _time_head(at: datetime) -> str:
    """A UUIDv8's first 13 characters: ``at`` in Unix milliseconds (``(at - _EPOCH) //
    _MILLISECOND``, clamped to 48 bits) as 8 and 4 hex digits, kept as the last time's
    (``_last_time``). The milliseconds from the timedelta's own days, seconds and
    microseconds (the same floor: the first two are whole milliseconds), not a timedelta
    division (~0.3 K instructions more); clamped by comparisons, not ``min(max(...))``
    (~2.5 K); the text by ``bytes.hex`` with its hyphen after the fourth byte, not
    slices put together (~2 K). Callgrind: 9.4 -> 5.4 K instructions."""
    global _last_time
    since = at - _EPOCH
    millis = (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000
    if millis < 0:
        millis = 0
    elif millis > _MAX_MILLIS:
        millis = _MAX_MILLIS
    head = millis.to_bytes(6, "big").hex("-", -4)
    _last_time = (at, head)
    return head


#: ``_time_head``: the last time and its text (one tuple, so a thread reads a consistent pair)
_last_time: tuple[datetime | None, str] = (None, "")


def time_ordered_id_beside(anchor: str, kind: str, *parts: str | int | None) -> str:
    """``time_ordered_id`` at the time of ``anchor``, an id ``time_ordered_id`` made:
    rows about one thing (a conversation's outbox events) sort beside it, and are as
    deterministic as it is. For any other ``anchor`` (a uuid5 of a conversation from
    before time-ordered ids) ``deterministic_id(kind, *parts)``, the id it had then."""
    if not parts:
        raise ValueError(f"time_ordered_id_beside({kind!r}) needs at least one identifying part")
    if not _is_uuid8(anchor):
        return deterministic_id(kind, *parts)
    return _uuid8_text(anchor[:13], _name_digest(kind, parts))


def name_prefix(kind: str, *parts: str | int | None) -> bytes:
    """What ``time_ordered_id_beside(anchor, kind, *parts, last)`` hashes before ``last``
    (``time_ordered_id_beside_last``): worked out once for the ids of several ``last``."""
    return _NAMESPACE_BYTES + (_name(kind, parts) + "\x1f").encode()


def time_ordered_id_beside_last(anchor: str, prefix: bytes, last: str | int) -> str:
    """``time_ordered_id_beside(anchor, kind, *parts, last)`` for ``prefix =
    name_prefix(kind, *parts)``, the same text: the outbox's ids of one cause's events
    (by their ordinals) without each one's name built and encoded again (callgrind:
    ~22 K → ~17 K instructions an id, ~2.2 per routed interaction).

    A cause's events come one after the other with the same ``prefix`` and usually the
    same ``anchor`` objects (its conversation's id): the prefix's SHA-1 state and the
    anchor's time digits are kept for the last of each (compared by identity: both are
    immutable) and the id's text is written from the digest's hex digits, its version
    and variant nibbles put in as text. Callgrind, 1,000 causes of 3 ids each: 16.2 K →
    12.0 K instructions an id; the same ids (``tests/unit/common/test_ids.py``)."""
    hashed = _last_prefix
    if hashed[0] is prefix:
        sha1 = hashed[1].copy()
    else:
        base = _sha1(prefix)
        _remember_prefix(prefix, base)
        sha1 = base.copy()
    sha1.update(str(last).encode())
    digest = sha1.digest()
    anchored = _last_anchor
    if anchored[0] is anchor:
        head = anchored[1]
    else:
        head = anchor[:13] if _is_uuid8(anchor) else None
        _remember_anchor(anchor, head)
    return _uuid5_text(digest.hex()) if head is None else _uuid8_text(head, digest)


def ordinal_id_stem(anchor: str, kind: str, part: str) -> str:
    """The first 34 characters of the ids ``ordinal_id(stem, ordinal)`` of one name
    (``kind`` and ``part``) beside ``anchor``: ``time_ordered_id_beside(anchor, kind,
    part, "")`` without its last two hex digits, where ``ordinal_id`` writes the
    ordinal (0-255). One hash for a name's ids, not one an id.

    The ids are as deterministic as ``time_ordered_id_beside``'s (the same name,
    anchor and ordinal: the same id) and as unique: 66 bits of the name's SHA-1 rather
    than 74 tell apart the names of one anchor's millisecond, and the ordinal the ids of
    one name. They are not the ids ``time_ordered_id_beside`` gives the same ordinals
    as a last part: ids of one space must come from one of the two (the router's
    outbox: ``ordinal_id`` up to 255 events of one cause, ``time_ordered_id_beside_last``
    after). Written in one function from the digest's hex (the name's bytes hashed at
    once, the text sliced from ``hexdigest``): the outbox makes one a cause."""
    digits = _sha1(_NAMESPACE_BYTES + f"{kind}\x1f{part}\x1f".encode()).hexdigest()
    variant = _VARIANT_NIBBLE[digits[16]]
    if len(anchor) == 36 and anchor[14] == "8" and anchor[19] in "89ab":  # _is_uuid8
        return f"{anchor[:13]}-8{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:30]}"
    return f"{digits[:8]}-{digits[8:12]}-5{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:30]}"


#: ``ordinal_id``'s last two hex digits per ordinal (``stem + ORDINAL_DIGITS[ordinal]``
#: is ``ordinal_id`` without a call)
ORDINAL_DIGITS = tuple(f"{ordinal:02x}" for ordinal in range(256))
#: how many ordinals ``ordinal_id`` writes
ORDINALS = len(ORDINAL_DIGITS)


def ordinal_id(stem: str, ordinal: int) -> str:
    """The id of ``ordinal`` (0 to ``ORDINALS`` - 1) of a stem ``ordinal_id_stem`` made:
    the stem and the ordinal's two hex digits."""
    return stem + ORDINAL_DIGITS[ordinal]


#: ``time_ordered_id_beside_last``: the last prefix and its hash state (only ever copied),
#: the last anchor and its first 13 characters (None: not a UUIDv8); one tuple each, so a
#: thread reads a consistent pair
_last_prefix: tuple[bytes | None, Any] = (None, None)
_last_anchor: tuple[str | None, str | None] = (None, None)
#: a hex digit to the one with its two high bits set to the RFC 9562 variant (10)
_VARIANT_NIBBLE = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _remember_prefix(prefix: bytes, hashed: Any) -> None:
    global _last_prefix
    _last_prefix = (prefix, hashed)


def _remember_anchor(anchor: str, head: str | None) -> None:
    global _last_anchor
    _last_anchor = (anchor, head)


def _is_uuid8(text: str) -> bool:
    return len(text) == 36 and text[14] == "8" and text[19] in "89ab"


def _uuid8_text(head: str, digest: bytes) -> str:
    """A UUIDv8's text: ``head``, its 48 bits of milliseconds as text (8 and 4 hex digits
    and their hyphen), then the name's SHA-1 bits as ``_uuid5_text`` takes them, written
    from the digest's hex: version 8 over the first digit, the RFC 9562 variant's two
    bits over the fifth's."""
    x = digest[6:16].hex()
    return f"{head}-8{x[1:4]}-{_VARIANT_NIBBLE[x[4]]}{x[5:8]}-{x[8:]}"


#: read once (a global and an attribute lookup per id); SHA-1 as UUIDv5 hashes the name.
#: CPython's own SHA-1 (``_sha1``), not OpenSSL's (``hashlib.sha1``): the same digest, but
#: a hash object made or copied without OpenSSL 3's EVP context set-up. Callgrind, a name
#: of one block: one-shot 5.4 → 3.3 K instructions, copy-update-digest 4.8 → 3.2 K; the
#: router hashes ~5 names per routed interaction. OpenSSL's where a build lacks it.
try:
    from _sha1 import sha1 as _sha1
except ImportError:  # pragma: no cover - CPython built without its own hashes
    _sha1 = hashlib.sha1


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
