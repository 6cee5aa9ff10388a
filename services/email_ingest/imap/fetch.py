"""Reading UID FETCH responses as aioimaplib hands them over.

aioimaplib gives a flat list: for each message a line like
``b'7 FETCH (UID 42 RFC822.SIZE 1234 BODY[] {1234}'``, then the literal as a
``bytearray``, then the rest of the item list (``b')'`` or ``b' UID 42)'``
when the server puts UID last), and finally the tagged completion text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FETCH_LINE = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    uid: int
    raw: bytes
    size: int | None = None


def parse_fetch_response(lines: list[bytes | bytearray]) -> list[FetchedMessage]:
    messages: list[FetchedMessage] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if isinstance(line, bytes) and _FETCH_LINE.match(line):
            literal, tail, index = _literal_and_tail(lines, index + 1)
            item_text = line + b" " + tail
            uid = _UID.search(item_text)
            if uid is not None and literal is not None:
                size = _SIZE.search(item_text)
                messages.append(
                    FetchedMessage(
                        int(uid.group(1)), bytes(literal), int(size.group(1)) if size else None
                    )
                )
            continue
        index += 1
    return messages


def _literal_and_tail(
    lines: list[bytes | bytearray], index: int
) -> tuple[bytearray | None, bytes, int]:
    """The literal after a FETCH line, and the item text after it (up to the next FETCH)."""
    literal = None
    tail = b""
    if index < len(lines) and isinstance(lines[index], bytearray):
        literal = lines[index]
        index += 1
    while index < len(lines) and isinstance(lines[index], bytes):
        if _FETCH_LINE.match(lines[index]):
            break
        tail += b" " + lines[index]
        index += 1
        if tail.rstrip().endswith(b")"):
            break
    return literal, tail, index
