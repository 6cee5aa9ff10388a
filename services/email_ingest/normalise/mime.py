"""Walking the MIME tree: which parts are the body, which are attachments.

A forwarded message (``message/rfc822``) is one attachment, not more body:
the customer's own words are the outer text. Delivery-status parts belong
to the bounce reader, not the body.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message

from services.email_ingest.normalise.charsets import decode_bytes
from services.email_ingest.normalise.headers import decode_header_text, text_of
from services.email_ingest.normalise.parsing import parse_message
from services.email_ingest.normalise.uuencode import extract_uuencoded

#: Deeper nesting than this is an attack or a broken mailer; the rest is ignored.
MAX_DEPTH = 30
_BODY_TYPES = {"text/plain", "text/html"}
_REPORT_PARTS = {"message/delivery-status", "text/rfc822-headers", "message/rfc822-headers"}


@dataclass(frozen=True, slots=True)
class TextPart:
    content_type: str
    text: str
    guessed_charset: bool


@dataclass(frozen=True, slots=True)
class AttachmentPart:
    name: str | None
    content_type: str
    data: bytes
    inline: bool
    content_id: str | None


@dataclass(slots=True)
class MimeParts:
    texts: list[TextPart] = field(default_factory=list)
    attachments: list[AttachmentPart] = field(default_factory=list)


def collect_parts(message: Message, fallback_charset: str | None = None) -> MimeParts:
    parts = MimeParts()
    _walk(message, parts, in_related=False, depth=0, fallback_charset=fallback_charset)
    return parts


def _walk(
    part: Message, out: MimeParts, *, in_related: bool, depth: int, fallback_charset: str | None
) -> None:
    if depth > MAX_DEPTH:
        return
    content_type = part.get_content_type()
    if content_type in _REPORT_PARTS:
        return
    if content_type == "message/rfc822":
        out.attachments.append(_attached_message(part, fallback_charset))
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if content_type == "multipart/alternative":
            _walk_alternatives(children, out, depth=depth, fallback_charset=fallback_charset)
            return
        related = content_type == "multipart/related"
        for child in children:
            _walk(
                child, out, in_related=related, depth=depth + 1, fallback_charset=fallback_charset
            )
        return
    filename = part_filename(part, fallback_charset)
    disposition = part.get_content_disposition()
    if content_type in _BODY_TYPES and disposition != "attachment" and not filename:
        out.texts.append(_text_with_uuencoded_files(_text_part(part, content_type), out))
        return
    if content_type.startswith("multipart/"):
        # A container the parser could not split (a boundary it did not accept).
        recovered = recover_multipart(part, content_type)
        if recovered is not None:
            _walk(
                recovered, out, in_related=in_related, depth=depth + 1,
                fallback_charset=fallback_charset,
            )  # fmt: skip
            return
        if not _payload_bytes(part).strip():
            return  # an empty container: nothing to describe
    attachment = _attachment(part, content_type, filename, disposition, in_related)
    out.attachments.append(attachment)


_DELIMITER = re.compile(rb"^--([ -~]{1,70}?)[ \t]*\r?$", re.MULTILINE)


def recover_multipart(part: Message, content_type: str) -> Message | None:
    """Split a multipart body by the delimiter lines it actually contains.

    Mailers write boundaries the parser refuses (``=`` unquoted, a declared
    boundary that differs from the one used); the customer's text is inside.
    """
    data = _payload_bytes(part)
    match = _DELIMITER.search(data)
    if match is None or data.count(b"--" + match.group(1)) < 2:
        return None
    boundary = match.group(1).decode("ascii").replace('"', "")
    head = f'Content-Type: {content_type}; boundary="{boundary}"\r\n\r\n'.encode()
    recovered = parse_message(head + data)
    return recovered if recovered.is_multipart() else None


def _text_with_uuencoded_files(text: TextPart, out: MimeParts) -> TextPart:
    if text.content_type != "text/plain":
        return text
    remaining, files = extract_uuencoded(text.text)
    for file in files:
        out.attachments.append(AttachmentPart(file.name, file.content_type, file.data, False, None))
    return TextPart(text.content_type, remaining, text.guessed_charset) if files else text


def _walk_alternatives(
    children: list[Message], out: MimeParts, *, depth: int, fallback_charset: str | None
) -> None:
    """One version of the text (plain preferred, HTML when plain is empty); every
    version's attachments (the inline images of the HTML version)."""
    versions = []
    for child in children:
        version = MimeParts()
        _walk(child, version, in_related=False, depth=depth + 1, fallback_charset=fallback_charset)
        versions.append(version)
        out.attachments.extend(version.attachments)
    readable = [v for v in versions if any(t.text.strip() for t in v.texts)]
    if readable:
        plain = [v for v in readable if all(t.content_type == "text/plain" for t in v.texts)]
        out.texts.extend((plain or readable)[0].texts)


def _text_part(part: Message, content_type: str) -> TextPart:
    data = _payload_bytes(part)
    decoded = decode_bytes(data, part.get_content_charset(None))
    return TextPart(content_type, decoded.text, decoded.guessed)


def _attachment(
    part: Message,
    content_type: str,
    filename: str | None,
    disposition: str | None,
    in_related: bool,
) -> AttachmentPart:
    content_id = _content_id(part)
    # An inline image is part of the HTML body (a logo, a pasted screenshot);
    # agents see it in the body, not in the attachment list.
    inline = content_type.startswith("image/") and (
        disposition == "inline"
        or (content_id is not None and disposition != "attachment")
        or (in_related and disposition is None)
    )
    name = filename if filename or inline else name_for_type(content_type)
    return AttachmentPart(name, text_of(content_type), _payload_bytes(part), inline, content_id)


def name_for_type(content_type: str) -> str:
    """A name for a nameless part, from its type: ``pgp-encrypted.asc``, ``image.png``."""
    maintype, _, subtype = content_type.partition("/")
    extension = (
        _EXTENSIONS.get(content_type)
        or mimetypes.guess_extension(content_type)
        or (".txt" if maintype in ("text", "multipart") else ".bin")
    )
    if extension.lstrip(".") == subtype:
        return f"{'attachment' if maintype == 'application' else maintype}{extension}"
    return f"{subtype or maintype or 'attachment'}{extension}"


#: Types mimetypes does not know or names oddly.
_EXTENSIONS = {
    "application/pgp-encrypted": ".asc",
    "application/pgp-signature": ".asc",
    "application/pgp-keys": ".asc",
    "application/octet-stream": ".bin",
    "text/plain": ".txt",
    "text/enriched": ".txt",
    "image/jpg": ".jpg",
    "message/delivery-status": ".txt",
}


def _attached_message(part: Message, fallback_charset: str | None) -> AttachmentPart:
    inner = part.get_payload(0) if part.is_multipart() else None
    data = b""
    if isinstance(inner, Message):
        try:
            data = inner.as_bytes()
        except Exception:  # a broken inner message still gets described
            data = str(inner.get_payload()).encode("utf-8", "surrogateescape")
    name = part_filename(part, fallback_charset)
    if name is None and isinstance(inner, Message):
        subject = inner.get("subject")
        name = f"{decode_header_text(str(subject), fallback_charset)}.eml" if subject else None
    return AttachmentPart(name or "message.eml", "message/rfc822", data, False, _content_id(part))


def part_filename(part: Message, fallback_charset: str | None = None) -> str | None:
    """Filename from Content-Disposition or Content-Type name (RFC 2231 or encoded words)."""
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:
        return None
    if isinstance(name, tuple):  # an RFC 2231 value the library did not collapse
        name = name[2]
    if not name:
        return None
    text = decode_header_text(str(name), fallback_charset).strip()
    return text.replace("/", "_").replace("\\", "_") or None


def _content_id(part: Message) -> str | None:
    raw = part.get("content-id")
    if raw is None:
        return None
    value = text_of(str(raw)).strip().strip("<>").strip()
    return value or None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # an undecodable transfer encoding: keep the bytes as they came
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
