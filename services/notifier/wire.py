"""RFC 5322 / MIME bytes of a notice, written directly (no ``email.message`` objects).

``EmailMessage`` with ``policy.SMTP`` parses every header value into the header
registry and refolds it on ``as_bytes()``: measured at 60-70 % of the notifier's
CPU per mail (issue #16 profile). The mails we send have one fixed shape, so we
write it ourselves with the standard library's encoders:

- structured values we control are ASCII and folded at spaces (RFC 5322 §2.2.3);
- display names and subjects that are not plain ASCII words become RFC 2047
  encoded-words (UTF-8, base64) that keep every space inside a word;
- bodies are UTF-8 in base64 (``base64.encodebytes``: 76-character lines) or
  quoted-printable (``email.quoprimime.body_encode``), CRLF throughout — what
  ``set_content`` produces.

:func:`serialise` refuses (``NotWireSafe``) what this shape does not cover —
any non-ASCII left in a structured header — and :mod:`services.notifier.mail`
then builds that mail with ``EmailMessage`` instead.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from dataclasses import dataclass

LINE_LIMIT = 78
#: 60 base64 characters: " =?utf-8?b?…?=" and "To: =?utf-8?b?…?=" stay within 78. Longer
#: names become several words; RFC 2047 §6.2 readers join them (CPython's address
#: parser keeps a space between them, as it does for the email package's own folding).
_PHRASE_WORD_BYTES = 45
_ATEXT_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")


class NotWireSafe(ValueError):
    """A value this writer does not encode; the caller uses the email package."""


@dataclass(frozen=True, slots=True)
class Body:
    text: str
    html: str | None


def encoded_words(text: str, max_bytes: int = _PHRASE_WORD_BYTES) -> list[str]:
    """UTF-8 base64 encoded-words of at most ``max_bytes`` each, split between characters:
    each chunk is the longest run of whole characters that fits (cut on the bytes, moved
    back off UTF-8 continuation bytes ``0b10xxxxxx`` — not a re-encode per character)."""
    data = text.encode()
    words, start = [], 0
    while start < len(data):
        end = min(start + max_bytes, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        # binascii itself: base64.b64encode is a Python function around this very call
        chunk = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(f"=?utf-8?b?{chunk}?=")
        start = end
    return words


def phrase(name: str) -> list[str]:
    """A display name as header tokens: plain ASCII words as they are, else encoded-words."""
    if _ATEXT_PHRASE.fullmatch(name) and "=?" not in name:
        return name.split()
    return encoded_words(name)


def address(name: str, addr_spec: str) -> list[str]:
    """``Name <addr>`` as tokens (bare ``addr`` without a name)."""
    _ascii(addr_spec)
    return [*phrase(name), f"<{addr_spec}>"] if name else [addr_spec]


def header(name: str, tokens: list[str]) -> bytes:
    """``Name: t1 t2 …`` folded between tokens so lines stay within 78 characters."""
    joined = " ".join(tokens)
    if (
        joined
        and len(name) + 2 + len(joined) <= LINE_LIMIT
        and joined.isascii()
        and "\r" not in joined
        and "\n" not in joined
    ):
        return f"{name}: {joined}\r\n".encode("ascii")  # most headers: one line, as below
    line = f"{name}:"
    lines: list[str] = []
    for token in tokens:
        _ascii(token)
        if "\n" in token:  # a line break is ours to place: every line ends in CRLF
            raise NotWireSafe(token[:80])
        if len(line) + 1 + len(token) > LINE_LIMIT and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {token}"
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def raw_header(name: str, value: str) -> bytes:
    """A value already folded by the caller (``\\n `` between lines, e.g. the subject)."""
    _ascii(value)
    return f"{name}: {value}".replace("\n", "\r\n").encode("ascii") + b"\r\n"


def serialise(headers: list[bytes], body: Body, *, seed: str, language: str) -> bytes:
    """Headers, then a text part or a multipart/alternative of text and HTML.

    Every line of the result ends in CRLF and no CR or LF stands alone (the SMTP client
    relies on it: ``OutgoingMail.crlf_lines``): headers from :func:`header` (no CR or LF
    in a token) and :func:`raw_header` (its ``\\n`` become CRLF), bodies in base64 or
    quoted-printable lines joined by CRLF."""
    parts = [*headers, b"MIME-Version: 1.0\r\n"]
    if body.html is None:
        part_headers, encoded = _part(body.text, "plain")
        parts += [part_headers, _language_header(language)]
        return b"".join([*parts, b"\r\n", encoded])
    boundary = boundary_for(seed)
    parts += [
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode(),
        _language_header(language),
        b"\r\n",
    ]
    for text, subtype in ((body.text, "plain"), (body.html, "html")):
        part_headers, encoded = _part(text, subtype)
        parts += [f"--{boundary}\r\n".encode(), part_headers, b"\r\n", encoded, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def boundary_for(seed: str) -> str:
    """``=_`` never occurs in base64 and ``=`` is always ``=3D`` in quoted-printable, so
    no encoded body line can contain the boundary."""
    return "=_omnidesk_" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def transfer_encoding(text: str) -> str:
    """Korean is shorter in base64; mostly-ASCII text stays readable in QP."""
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))  # in C, not per character
    return "base64" if non_ascii * 3 > len(text) else "quoted-printable"


@functools.lru_cache(maxsize=64)
def _language_header(language: str) -> bytes:
    """``Content-Language``: one of the desk's few locales, so written once each."""
    _ascii(language)
    return header("Content-Language", [language])


def _part(text: str, subtype: str) -> tuple[bytes, bytes]:
    """Content-Type and -Transfer-Encoding headers, and the encoded body, of one part."""
    cte = transfer_encoding(text)
    return _part_headers(subtype, cte), _encoded(text, cte)


@functools.cache
def _part_headers(subtype: str, cte: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    ).encode()


def _encoded(text: str, cte: str) -> bytes:
    """The body as ``set_content`` writes it: lines ended by CRLF, then encoded.

    Lines are split as bytes (CR, LF, CRLF only), as the email package does; a
    ``str.splitlines`` would also break at form feeds and U+2028.
    """
    lines = _lines(text.encode())
    if cte == "base64":
        return _base64_lines(b"\r\n".join(lines) + b"\r\n")
    # quoprimime.body_encode quotes and wraps each line on its own (its translate
    # keeps CR/LF, and every line end is LF here), so the body is its lines' encodings
    # joined by CRLF, plus a final CRLF. Most lines of a notice come from the template
    # unchanged — the HTML's markup, the text's labels — so each line is encoded once
    # per process (``str.translate`` over a latin-1 view is ~1 µs per 10 bytes).
    return b"\r\n".join([*map(_quoted_printable_line, lines or [b""]), b""])


def _lines(data: bytes) -> list[bytes]:
    """``data.splitlines()``: lines broken at CR, LF and CRLF, no empty one after a last
    line end. A notice's text holds no CR (the templates' line ends are LF): then that
    is a split at LF, found by ``memchr``, less the empty piece after a final LF —
    ``splitlines`` tests every byte for both (~5 instructions a byte, ~1.6 KB a mail)."""
    # find, not ``in``: ``x in data`` first takes ``x`` for a byte's value, and for bytes
    # that raises a formatted TypeError, then cleared (~1 K instructions each time)
    if data.find(b"\r") >= 0:
        return data.splitlines()
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _base64_lines(data: bytes) -> bytes:
    """``base64.encodebytes(data)`` with CRLF line ends: 76-character lines, each ended.
    Encoded in one call and cut, not a ``b2a_base64`` call per 57-byte chunk and a
    second pass for the line ends (a Korean text part of ~1 KB: ~9 → ~7 µs)."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)] + [b""])


#: Template lines recur in every mail and stay in; lines with a notice's own values pass
#: through (a backlog fills the cache with them: 1,024 lines are ~0.5 MB).
@functools.lru_cache(maxsize=1024)
def _quoted_printable_line(line: bytes) -> bytes:
    """One line (no CR/LF) as ``quoprimime.body_encode`` writes it: soft breaks
    (``=`` CRLF) within 76 characters.

    quoprimime quotes with a ``str.translate`` (pure Python per character: 1-4 µs a
    line of a notice's own values — names, Korean sentences — that the cache misses).
    ``binascii.b2a_qp`` (C) quotes the same characters (``=``, controls but tab,
    bytes above 126); its soft breaks are removed and quoprimime's put in instead
    (:func:`_soft_broken`). Where the two differ it is kept out of b2a_qp's hands:
    trailing spaces and tabs (quoprimime quotes only the last, below), and a "." at the
    start (b2a_qp quotes a lone one: an "a" goes first and is dropped). Property-tested
    byte for byte against quoprimime in test_wire."""
    if line[-1:] not in _SPACE_OR_TAB and line[:1] != b"." and line.find(b"\0") < 0:  # see _lines
        return _b2a_qp_broken(line)
    core = line.rstrip(b" \t")
    quoted = binascii.b2a_qp(b"a" + core).replace(b"=\n", b"")[1:] + line[len(core) :]
    return _soft_broken(quoted)


def _b2a_qp_broken(line: bytes) -> bytes:
    """A line with no trailing space or tab, no "." first and no NUL (where b2a_qp would
    quote a "." after its own soft break) as quoprimime writes it, b2a_qp's soft breaks
    kept: both put the longest piece of at most 75 characters and a ``=`` that splits no
    escape before each break. They differ only at the end: quoprimime lets the last
    piece be 76 long, b2a_qp puts a break before a last escape that would end at 76 —
    those two pieces are joined. Saves re-breaking the line in Python (~5 pieces a long
    Korean line), the prefix and the copies; property-tested against quoprimime."""
    quoted = binascii.b2a_qp(line)
    pieces = quoted.split(b"=\n")  # "=" is always "=3D": "=\n" is a soft break
    if len(pieces) == 1:
        return quoted  # most lines
    if len(pieces[-1]) == 3 and len(pieces[-2]) == _QP_LINE - 3:
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return b"=\r\n".join(pieces)


def _soft_broken(line: bytes) -> bytes:
    """quoprimime.body_encode's line breaking (maxlinelen 76), on a quoted line whose
    spaces and tabs are all still literal: 75-character pieces ending in a soft break
    ``=`` (or in the ``=`` of an escape that then starts the next piece), and a last
    space or tab quoted or moved so the line does not end in whitespace."""
    if len(line) <= _QP_LINE and line[-1:] not in (b" ", b"\t"):
        return line  # nearly every line of a notice
    pieces: list[bytes] = []
    start, last_start = 0, len(line) - 1 - _QP_LINE
    while start <= last_start:
        stop = start + _QP_LINE - 1
        if line[stop - 2] == _EQUALS:
            pieces.append(line[start : stop - 1])
            start = stop - 2
        elif line[stop - 1] == _EQUALS:
            pieces.append(line[start:stop])
            start = stop - 1
        else:
            pieces.append(line[start:stop] + b"=")
            start = stop
    if line[-1:] in (b" ", b"\t"):
        room, space = start - last_start, line[-1:]
        quoted = b"=%02X" % line[-1]
        if room >= 3:
            pieces.append(line[start:-1] + quoted)
        elif room == 2:
            pieces.append(line[start:-1] + space + b"=\r\n")
        else:
            pieces.append(line[start:-1] + b"=\r\n" + quoted)
    else:
        pieces.append(line[start:])
    return b"\r\n".join(pieces)


_QP_LINE = LINE_LIMIT - 2  # 76 (RFC 2045 §6.7)
_SPACE_OR_TAB = (b" ", b"\t")
_EQUALS = ord("=")


def _ascii(value: str) -> None:
    if not value.isascii() or "\r" in value or "\n" in value.replace("\n ", ""):
        raise NotWireSafe(value[:80])
