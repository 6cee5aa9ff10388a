"""uuencoded files pasted into a text body (``begin 644 name`` … ``end``).

Old mailers and some gateways still send attachments this way; left in the
body they are kilobytes of noise for the agent and the file is lost. A part
with ``Content-Transfer-Encoding: x-uuencode`` is decoded by the standard
library already; this finds the blocks inside plain text. ``binascii.a2b_uu``
decodes one line (the ``uu`` module is gone in Python 3.13).
"""

from __future__ import annotations

import binascii
import mimetypes
import re
from dataclasses import dataclass

_BLOCK = re.compile(
    r"^begin[ \t]+[0-7]{3,4}[ \t]+(?P<name>[^\n]*?)[ \t]*\n(?P<body>.*?)^end[ \t]*(?:\n|\Z)",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class UuFile:
    name: str
    content_type: str
    data: bytes


def extract_uuencoded(text: str) -> tuple[str, list[UuFile]]:
    """The text without its well-formed uuencoded blocks, and the decoded files."""
    if "begin " not in text:
        return text, []
    text = text.replace("\r\n", "\n")
    files: list[UuFile] = []
    kept: list[str] = []
    position = 0
    for match in _BLOCK.finditer(text):
        data = _decode_lines(match.group("body"))
        if data is None:
            continue  # not uuencode after all: leave the lines as text
        name = match.group("name").replace("/", "_").replace("\\", "_") or "attachment.bin"
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(UuFile(name, content_type, data))
        kept.append(text[position : match.start()])
        position = match.end()
    if not files:
        return text, []
    kept.append(text[position:])
    return _BLANK_LINES.sub("\n\n", "".join(kept)), files


_BLANK_LINES = re.compile(r"\n{3,}")


def _decode_lines(body: str) -> bytes | None:
    out = bytearray()
    for line in body.split("\n"):
        line = line.rstrip("\r")
        if line in ("", "`"):
            continue
        # Some encoders pad lines with spaces or add garbage: decode the bytes the
        # length character announces, as the uu module did.
        length = ((ord(line[0]) - 32) & 63) * 4 + 5
        try:
            out += binascii.a2b_uu(line[: length // 3])
        except (binascii.Error, ValueError):
            return None
    return bytes(out)
