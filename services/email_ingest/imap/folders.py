"""Folder names on the wire: IMAP's modified UTF-7 (RFC 3501 §5.1.3).

Configuration, logs and checkpoints use the names as people write them
(``받은편지함``, ``고객문의/환불``); commands carry the encoded form
(``&vBvHQNO4ycDVaA-``). The codec is imap-tools' (a small, dependency-free
module of a maintained library).
"""

from __future__ import annotations

from imap_tools.imap_utf7 import utf7_decode, utf7_encode


def encode_folder(name: str) -> str:
    """``받은편지함`` → ``&vBvHQNO4ycDVaA-``; ASCII names stay as they are but ``&`` → ``&-``."""
    return utf7_encode(name).decode("ascii")


def decode_folder(wire: str | bytes) -> str:
    """The server's encoded name as text (LIST responses, logs)."""
    data = wire.encode("ascii") if isinstance(wire, str) else wire
    return utf7_decode(data)


def quoted_folder(name: str) -> str:
    """The encoded name as an IMAP quoted string (names may contain spaces)."""
    escaped = encode_folder(name).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
