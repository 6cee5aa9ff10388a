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
    return probe.HEADER_REGEX, signature_start(probe.SIGNATURE_REGEX)


#: How the library's signature pattern ends: "and everything after it".
_REST_OF_TEXT = r"(.|\s)*)"


def signature_start(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The signature pattern without its tail that eats the rest of the text one
    character at a time: that tail always matches, so where a match starts (all we
    use) is the same, at a third less of the search. Unchanged if not that shape."""
    text = pattern.pattern
    if not (text.startswith("(") and text.endswith(_REST_OF_TEXT)):
        return pattern
    return re.compile(text[: -len(_REST_OF_TEXT)] + ")", pattern.flags)


def split_signature_only(body: str) -> ReplyParts:
    """Machine-written text (a delivery report): its ">>> DATA" lines are an SMTP
    transcript, not quoted history; only a signature (a scanner's footer) is cut."""
    text, signature = _split_signature(_normalise_newlines(body))
    return ReplyParts(text.strip(), None, signature)


def split_reply(body: str) -> ReplyParts:
    text = _normalise_newlines(body)
    if _written_below_quotes(text):
        return _split_interleaved(text)
    cut = _first_quote_position(text)
    new_text, quoted = text[:cut], text[cut:].strip()
    new_text, signature = _split_signature(new_text)
    if not new_text.strip():
        # A bare forward or a fully quoted mail: the agent still needs to read it.
        return ReplyParts(text.strip(), None, None)
    return ReplyParts(new_text.strip(), quoted or None, signature)


def _is_quoted(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _written_below_quotes(text: str) -> bool:
    """Bottom-posted or inline reply: the customer wrote after (or between) "> " quotes.

    Only for ">" quoting with no history banner after the first quote; Outlook-style
    history (unquoted, under a header block) keeps the top-posting split.
    """
    if ">" not in text:
        return False
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if _is_quoted(line)), None)
    if first is None:
        return False
    after = [line for line in lines[first + 1 :] if line.strip() and not _is_quoted(line)]
    if not after:
        return False
    rest = "\n".join(lines[first + 1 :])
    return _EXTRA_QUOTE_MARKERS.search(rest) is None and not _has_reply_header(rest)


def _split_interleaved(text: str) -> ReplyParts:
    """New text = the unquoted lines; quoted = the "> " lines and their attribution."""
    lines = text.split("\n")
    new_lines: list[str] = []
    quoted_lines: list[str] = []
    for index, line in enumerate(lines):
        if _is_quoted(line) or _introduces_quote(lines, index):
            quoted_lines.append(line)
        else:
            new_lines.append(line)
    new_text, signature = _split_signature("\n".join(new_lines).strip("\n"))
    new_text = _BLANK_RUNS.sub("\n\n", new_text).strip()
    if not new_text:
        return ReplyParts(text.strip(), None, None)
    return ReplyParts(new_text, "\n".join(quoted_lines).strip() or None, signature)


_BLANK_RUNS = re.compile(r"\n{3,}")


def _introduces_quote(lines: list[str], index: int) -> bool:
    """ "On <date>, <name> wrote:" (or a Korean marker) right above a quote block."""
    line = lines[index]
    if not line.strip() or _is_quoted(line):
        return False
    following = next((other for other in lines[index + 1 :] if other.strip()), "")
    return _is_quoted(following) and (
        _has_reply_header(line + "\n") or _EXTRA_QUOTE_MARKERS.search(line) is not None
    )


def _has_reply_header(text: str) -> bool:
    header_regex, _ = _library_patterns()
    if _HEADER_KEYWORD.search(text.lower()) is None:
        return False
    for start, line in _lines_with_offsets(text):
        if _HEADER_KEYWORD.search(line.lower()) is not None and (
            header_regex.match(text, start) or _EXTRA_QUOTE_MARKERS.match(text, start)
        ):
            return True
    return False


def _normalise_newlines(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n"))


#: A reply header line contains one of these (lower-cased); other lines are not
#: tried, which keeps the library's many-alternative pattern off most of the text.
_HEADER_KEYWORDS = (
    "wrote", "from:", "sent:", "date:", "subject:", "to:", "cc:", "-----", "original message",
    "forwarded", "보낸", "받는", "날짜", "제목", "참조", "작성", "원본", "전달",
)  # fmt: skip
#: Any of them in one search (the same answer as testing each as a substring).
_HEADER_KEYWORD = re.compile("|".join(map(re.escape, _HEADER_KEYWORDS)))


def _first_quote_position(text: str) -> int:
    header_regex, _ = _library_patterns()
    trailing = _trailing_quote_block(text)
    previous_start = 0
    for start, line in _lines_with_offsets(text):
        if start >= trailing:
            break
        if _HEADER_KEYWORD.search(line.lower()) is not None:
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
    """The signature starts at the first delimiter on an unquoted line: a quoted
    "> --" is the old mail's signature, and what follows it may be new text."""
    _, signature_regex = _library_patterns()
    position = 0
    while True:
        match = signature_regex.search(text, position)
        if match is None:
            return text, None
        start = _line_start(text, match.start())
        line_end = text.find("\n", start)
        if not _is_quoted(text[start : line_end if line_end >= 0 else len(text)]):
            break
        if line_end < 0:
            return text, None
        position = line_end + 1
    if start == 0:
        return text, None  # the whole text "looks like" a signature: keep it as text
    signature = text[start:].strip()
    return text[:start], signature or None
