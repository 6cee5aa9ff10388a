"""Header decoding from the raw header lines.

We read the raw values (``Message.raw_items``) and decode them ourselves
rather than trusting the ``policy.default`` header objects: those parse
lazily and some malformed real-world headers make them raise deep in the
standard library. Here every failure degrades to "less decoded", never to
an exception.

Handles RFC 2047 encoded words (with our charset aliases), raw UTF-8 headers
(RFC 6532) and raw legacy 8-bit headers (decoded like an undeclared body).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from services.email_ingest.normalise.charsets import decode_bytes, decode_short_bytes

_FOLD = re.compile(r"\r?\n[ \t]*")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_ADDR_SPEC = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


class HeaderMap:
    """Raw header values by lower-cased name, in order of appearance."""

    def __init__(self, items: Iterable[tuple[str, str]], fallback_charset: str | None = None):
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name.strip().lower(), []).append(str(value))
        self.fallback_charset = fallback_charset

    @classmethod
    def of(cls, message: Message, fallback_charset: str | None = None) -> HeaderMap:
        return cls(message.raw_items(), fallback_charset)

    def raw(self, name: str) -> str | None:
        """The undecoded value (encoded words kept), with raw 8-bit bytes made text."""
        values = self._values.get(name.lower())
        return self._clean(values[0]) if values else None

    def raw_all(self, name: str) -> list[str]:
        return [self._clean(v) for v in self._values.get(name.lower(), [])]

    def _clean(self, value: str) -> str:
        # The bytes parser keeps 8-bit bytes as lone surrogates, which no JSON
        # encoder accepts: left in an id they would make the mail unpublishable.
        return text_of(unfold(value), self.fallback_charset)

    def has(self, name: str) -> bool:
        return name.lower() in self._values

    def text(self, name: str) -> str | None:
        """The header decoded to text, or None if absent."""
        raw = self.raw(name)
        return None if raw is None else decode_header_text(raw, self.fallback_charset)


def unfold(value: str) -> str:
    return _FOLD.sub(" ", value).strip()


def decode_header_text(raw: str, fallback_charset: str | None = None) -> str:
    """Encoded words and 8-bit bytes to text; never raises."""
    value = _decode_eight_bit(raw, fallback_charset)
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except Exception:  # malformed encoded word: keep it readable as it is
        return value
    return "".join(_chunk_text(chunk, charset) for chunk, charset in chunks).strip()


def _chunk_text(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is None:
        # decode_header returns unencoded stretches as raw-unicode-escape bytes
        return chunk.decode("raw-unicode-escape", "replace")
    return decode_bytes(chunk, charset).text


def text_of(raw: str, fallback_charset: str | None = None) -> str:
    """A raw header value with its 8-bit bytes decoded (no lone surrogates left)."""
    return _decode_eight_bit(raw, fallback_charset)


def _decode_eight_bit(raw: str, fallback_charset: str | None) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes from the bytes parser;
    raw ISO-2022-JP/KR headers are 7-bit but full of escape sequences."""
    if raw.isascii():
        if "\x1b" not in raw:
            return raw
    elif not any("\udc80" <= ch <= "\udcff" for ch in raw):
        return raw
    data = raw.encode("utf-8", "surrogateescape")
    return decode_short_bytes(data, fallback_charset).text


@dataclass(frozen=True, slots=True)
class Address:
    email: str
    display_name: str | None

    @property
    def encoded_word_in_local_part(self) -> bool:
        """``=?utf-8?B?…?=@example.com``: RFC 2047 §5 forbids decoding it there, so
        the address stays literal; a broken mailer, worth a flag."""
        local = self.email.rpartition("@")[0]
        return "=?" in local and "?=" in local


def parse_addresses(raw: str | None, fallback_charset: str | None = None) -> list[Address]:
    """Addresses with an ``@``, lower-cased, display names decoded."""
    if not raw:
        return []
    value = _decode_eight_bit(raw, fallback_charset)
    try:
        pairs = simple_address(value) or getaddresses([value])
    except Exception:  # getaddresses has raised on pathological input in the past
        return []
    out = []
    if not any(_looks_like_address(addr) for _, addr in pairs):
        pairs = [("", found) for found in _ADDR_SPEC.findall(raw)]  # "a@x b@x", obsolete syntax
    for name, addr in pairs:
        addr = addr.strip().strip("<>").lower()
        if not _looks_like_address(addr):
            continue
        decoded_name = decode_header_text(name, fallback_charset).strip().strip('"') if name else ""
        out.append(Address(addr, decoded_name or None))
    return out


#: What the stdlib's address parser (``email._parseaddr``) reads as one atom: no
#: specials; no white space (it drops an atom that is only white space to
#: ``str.strip``); a backslash is left to it. In a display name a dot belongs to
#: the word (obsolete phrase syntax), as there.
_ATOM = r"[^\s()<>@,:;.\\\"\[\]]+"
_PHRASE_WORD = r'(?:[^\s()<>@,:;\\"\[\]]+|"[^"\\\r]*")'
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_SIMPLE_ADDRESS = re.compile(
    rf"(?:(?P<phrase>{_PHRASE_WORD}(?:[ \t]+{_PHRASE_WORD})*)[ \t]*)?"
    rf"<(?P<routed>{_DOT_ATOM}@{_DOT_ATOM})>|(?P<bare>{_DOT_ATOM}@{_DOT_ATOM})"
)
_WORD_IN_PHRASE = re.compile(_PHRASE_WORD)


def simple_address(value: str) -> list[tuple[str, str]] | None:
    """``getaddresses([value])`` for one plain address (``Name <a@b>``, ``"N, M" <a@b>``,
    ``a@b``): the words of the name joined by one space, quotes taken off, the
    address as written. None for anything else (comments, lists, groups, escapes,
    routes, literals), which the stdlib parser reads."""
    match = _SIMPLE_ADDRESS.fullmatch(value)
    if match is None:
        return None
    if match["bare"] is not None:
        return [("", match["bare"])]
    phrase = match["phrase"] or ""
    words = [w[1:-1] if w.startswith('"') else w for w in _WORD_IN_PHRASE.findall(phrase)]
    return [(" ".join(words), match["routed"])]


def _looks_like_address(addr: str) -> bool:
    local, at, domain = addr.strip().strip("<>").rpartition("@")
    return bool(at and local and domain)


def first_address(headers: HeaderMap, *names: str) -> Address | None:
    for name in names:
        for raw in headers.raw_all(name):
            found = parse_addresses(raw, headers.fallback_charset)
            if found:
                return found[0]
    return None


def parse_date(raw: str | None) -> datetime | None:
    """An aware UTC datetime, or None when the Date header is missing or unreadable."""
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000" or no zone: RFC 5322 says UTC is the best guess
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_message_ids(raw: str | None) -> list[str]:
    """Message-IDs without brackets, in order, without duplicates."""
    if not raw:
        return []
    ids = _MESSAGE_ID.findall(raw)
    if not ids and "@" in raw and " " not in raw.strip():
        ids = [raw.strip()]  # a bare id without brackets, seen from broken mailers
    return list(dict.fromkeys(ids))
