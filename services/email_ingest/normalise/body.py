"""The readable body: pick the text part, convert HTML, split off the history."""

from __future__ import annotations

import re
from html import unescape

import nh3

from libs.common.events import MessageBody
from services.email_ingest.normalise.mime import TextPart
from services.email_ingest.normalise.replies import split_reply, split_signature_only

#: HTML larger than this is cut before conversion: converting megabytes of
#: markup costs seconds and the text is capped anyway.
MAX_HTML_CHARS = 400_000


def body_from_parts(texts: list[TextPart], *, split: bool = True) -> MessageBody:
    """Every inline text part in order (a relay's HTML footer after the customer's
    plain text is still part of the mail); alternatives were chosen by the MIME walk.

    ``split=False`` keeps the text whole: a delivery report's SMTP transcript
    (``>>> DATA``) is not quoted history.
    """
    readable = [t for t in texts if t.text.strip()]
    if not readable:
        return MessageBody(text="")
    chunks = [html_to_text(t.text) if t.content_type == "text/html" else t.text for t in readable]
    from_html = any(t.content_type == "text/html" for t in readable)
    text = "\n\n".join(c for c in chunks if c.strip())
    return _message_body(text, from_html=from_html, split=split)


def _message_body(text: str, *, from_html: bool, split: bool) -> MessageBody:
    parts = split_reply(text) if split else split_signature_only(text)
    return MessageBody(
        text=parts.text,
        quoted=parts.quoted,
        signature=parts.signature,
        from_html=from_html,
        language=script_language(parts.text),
    )


def html_to_text(html: str) -> str:
    """Readable plain text from HTML mail.

    Block elements become line breaks, list items bullets, links keep their
    URL; ammonia (nh3, in Rust) then drops every tag, and the content of
    scripts, styles and the head. html2text renders nicer Markdown but costs
    tens of milliseconds per newsletter-sized mail; this costs well under one.
    """
    marked = _HEAD.sub(" ", _WHITESPACE.sub(" ", html[:MAX_HTML_CHARS]))
    marked = _LINK.sub(_link_text, marked)
    marked = _LIST_ITEM.sub("\n- ", marked)
    marked = _CELL_END.sub("\t", marked)
    quoting = _BLOCKQUOTE.search(marked) is not None
    if quoting:
        marked = _BLOCKQUOTE.sub(_quote_marker, marked)
    marked = _BLOCK_BREAK.sub("\n", marked)
    text = unescape(nh3.clean(marked, tags=set(), clean_content_tags=_DROPPED_CONTENT))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    if quoting:
        lines = _quoted_lines(lines)
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


#: Private-use characters standing for <blockquote> and </blockquote> through nh3.
_QUOTE_OPEN, _QUOTE_CLOSE = "\ue000", "\ue001"


def _quote_marker(match: re.Match[str]) -> str:
    return f"\n{_QUOTE_CLOSE}\n" if match.group(1) else f"\n{_QUOTE_OPEN}\n"


def _quoted_lines(lines: list[str]) -> list[str]:
    """Text inside <blockquote> gets "> " per level, as a plain-text mailer quotes:
    the reply splitter then tells the customer's new text (also below or between
    quotes) from the history."""
    out = []
    depth = 0
    for line in lines:
        depth += line.count(_QUOTE_OPEN) - line.count(_QUOTE_CLOSE)
        depth = max(depth, 0)
        text = line.replace(_QUOTE_OPEN, "").replace(_QUOTE_CLOSE, "").strip()
        if text:
            out.append("> " * depth + text if depth else text)
        elif not out or out[-1]:
            out.append("")
    return out


def _link_text(match: re.Match[str]) -> str:
    url, label = match.group(1).strip(), match.group(2)
    plain_label = _TAG.sub("", label).strip()
    if not plain_label or not url.lower().startswith(("http://", "https://")):
        return label
    if url in plain_label:
        return label
    return f"{label} ({url})"


_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_WHITESPACE = re.compile(r"\s+")
_HEAD = re.compile(r"<head\b.*?</head\s*>", re.I | re.S)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]*>")
_LINK = re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']+)[\"'][^>]*>(.*?)</a\s*>", re.I | re.S)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.I)
_BLOCKQUOTE = re.compile(r"<(/?)blockquote\b[^>]*>", re.I)
_CELL_END = re.compile(r"</t[dh]\s*>", re.I)
_BLOCK_BREAK = re.compile(
    r"<(?:br|hr|/?p|/?div|/?tr|/?table|/?h[1-6]|/?blockquote|/?pre|/?ul|/?ol|/?dl|/?dd|/?dt|"
    r"/?section|/?article|/?header|/?footer|/?center)\b[^>]*>",
    re.I,
)
_DROPPED_CONTENT = {"script", "style", "title"}


def script_language(text: str) -> str | None:
    """ko / ja / zh from the script of the letters; None when it says nothing.

    Enough for routing Korean customers to Korean-speaking agents without a
    language-identification model; Latin-script languages are left to the router.
    """
    sample = text[:4000]
    hangul = len(_HANGUL.findall(sample))
    kana = len(_KANA.findall(sample))
    han = len(_HAN.findall(sample))
    if hangul and hangul >= kana:
        return "ko"
    if kana:
        return "ja"
    if han:
        return "zh"
    return None
