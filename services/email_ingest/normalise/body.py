"""The readable body: pick the text part, convert HTML, split off the history."""

from __future__ import annotations

import html2text
import nh3

from libs.common.events import MessageBody
from services.email_ingest.normalise.mime import TextPart
from services.email_ingest.normalise.replies import split_reply

#: HTML larger than this is cut before conversion: converting megabytes of
#: markup costs seconds and the text is capped anyway.
MAX_HTML_CHARS = 400_000


def body_from_parts(texts: list[TextPart]) -> MessageBody:
    plain = [t for t in texts if t.content_type == "text/plain" and t.text.strip()]
    if plain:
        return _message_body("\n\n".join(t.text for t in plain), from_html=False)
    html = [t for t in texts if t.content_type == "text/html" and t.text.strip()]
    if html:
        return _message_body(html_to_text(html[0].text), from_html=True)
    return MessageBody(text="")


def _message_body(text: str, *, from_html: bool) -> MessageBody:
    parts = split_reply(text)
    return MessageBody(
        text=parts.text,
        quoted=parts.quoted,
        signature=parts.signature,
        from_html=from_html,
        language=script_language(parts.text),
    )


def html_to_text(html: str) -> str:
    """Readable plain text; scripts, styles and comments are dropped first."""
    cleaned = nh3.clean(html[:MAX_HTML_CHARS], tags=_KEPT_TAGS, attributes={"a": {"href"}})
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wrapping: agents' screens wrap
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.unicode_snob = True
    return converter.handle(cleaned).strip()


_KEPT_TAGS = {
    "a", "b", "blockquote", "br", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "u",
    "ul",
}  # fmt: skip


def script_language(text: str) -> str | None:
    """ko / ja / zh from the script of the letters; None when it says nothing.

    Enough for routing Korean customers to Korean-speaking agents without a
    language-identification model; Latin-script languages are left to the router.
    """
    hangul = kana = han = 0
    for ch in text[:4000]:
        code = ord(ch)
        if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            hangul += 1
        elif 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0x4E00 <= code <= 0x9FFF:
            han += 1
    if hangul and hangul >= kana:
        return "ko"
    if kana:
        return "ja"
    if han:
        return "zh"
    return None
