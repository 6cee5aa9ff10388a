"""Separating the new text from quoted history and the signature.

mail-parser-reply knows the English and (some) Korean reply headers and
signature phrases; we use its compiled patterns, and add the Korean markers
it lacks: Outlook's "-----원본 메시지-----", a lone "보낸 사람:" line, Gmail's
"2024년 1월 2일 (화) 오후 3:04, 홍길동 <a@b>님이 작성:", Apple Mail's
"2024. 1. 2. 오후 3:04, 홍길동 <a@b> 작성:", and forwarded-message banners.
We cut at the earliest marker ourselves, so the new text keeps its own lines
exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mailparser_reply.parser import EmailMessage

_EXTRA_QUOTE_MARKERS = re.compile(
    "|".join(
        (
            r"^[ \t>]*-{3,}\s*(?:Original Message|원본 메시지|원래 메시지)\s*-{3,}[ \t]*$",
            r"^[ \t>]*-{3,}\s*(?:Forwarded message|전달된 메일|전달된 메시지)\s*-{3,}[ \t]*$",
            r"^[ \t>]*Begin forwarded message:[ \t]*$",
            r"^[ \t>]*\*?보낸\s?사람\s*\*?\s*:.*$",
            r"^[ \t>]*.{0,200}님이\s*작성(?:하였습니다|했습니다|함)?\s*:[ \t]*$",
            r"^[ \t>]*.{0,80}\d{4}\s*(?:년|\.)\s*\d{1,2}\s*(?:월|\.)\s*\d{1,2}\s*(?:일|\.).{0,160}"
            r"작성\s*:[ \t]*$",
        )
    ),
    flags=re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class ReplyParts:
    text: str
    quoted: str | None
    signature: str | None


@cache
def _library_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The library's header and signature patterns for Korean + English, built once."""
    probe = EmailMessage(text="", languages=["ko"], keep_hyphen_lists=True)
    return probe.HEADER_REGEX, probe.SIGNATURE_REGEX


def split_reply(body: str) -> ReplyParts:
    text = _normalise_newlines(body)
    cut = _first_quote_position(text)
    new_text, quoted = text[:cut], text[cut:].strip()
    new_text, signature = _split_signature(new_text)
    if not new_text.strip():
        # A bare forward or a fully quoted mail: the agent still needs to read it.
        return ReplyParts(text.strip(), None, None)
    return ReplyParts(new_text.strip(), quoted or None, signature)


def _normalise_newlines(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n"))


#: A reply header line contains one of these (lower-cased); other lines are not
#: tried, which keeps the library's many-alternative pattern off most of the text.
_HEADER_KEYWORDS = (
    "wrote", "from:", "sent:", "date:", "subject:", "to:", "cc:", "-----", "original message",
    "forwarded", "보낸", "받는", "날짜", "제목", "참조", "작성", "원본", "전달",
)  # fmt: skip


def _first_quote_position(text: str) -> int:
    header_regex, _ = _library_patterns()
    trailing = _trailing_quote_block(text)
    previous_start = 0
    for start, line in _lines_with_offsets(text):
        if start >= trailing:
            break
        lowered = line.lower()
        if any(keyword in lowered for keyword in _HEADER_KEYWORDS):
            # "On <date>, <name>\n wrote:" wraps: try the line before as well.
            for probe in dict.fromkeys((previous_start, start)):
                for pattern in (header_regex, _EXTRA_QUOTE_MARKERS):
                    match = pattern.match(text, probe)
                    if match is not None:
                        return min(_line_start(text, match.start()), trailing)
        previous_start = start
    return trailing


def _lines_with_offsets(text: str):  # type: ignore[no-untyped-def]
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _trailing_quote_block(text: str) -> int:
    """Start of the run of "> " lines that ends the text (bottom quoting, no header line)."""
    lines = text.split("\n")
    index = len(lines)
    block_start = None
    while index > 0 and (lines[index - 1].startswith(">") or not lines[index - 1].strip()):
        index -= 1
        if lines[index].startswith(">"):
            block_start = index
    if block_start is None:
        return len(text)
    return sum(len(line) + 1 for line in lines[:block_start])


def _line_start(text: str, position: int) -> int:
    # The library's patterns may start on the newline before the marker line.
    while position < len(text) and text[position] == "\n":
        position += 1
    return text.rfind("\n", 0, position) + 1


def _split_signature(text: str) -> tuple[str, str | None]:
    _, signature_regex = _library_patterns()
    match = signature_regex.search(text)
    if match is None:
        return text, None
    start = _line_start(text, match.start())
    if start == 0:
        return text, None  # the whole text "looks like" a signature: keep it as text
    signature = text[start:].strip()
    return text[:start], signature or None
