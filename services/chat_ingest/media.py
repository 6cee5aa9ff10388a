"""Chat attachments that are only provider references, fetched once into the blob store.

A Telegram message carries a ``file_id``, not the file; the link to it expires
and needs the bot token. chat_ingest fetches the file before publishing (size
limit, type allow-list), stores it in the blob store (content-addressed: a
retried webhook stores nothing new) and publishes the attachment with its
sha256 and size instead of the reference. A file that cannot be fetched (too
big, a type not allowed, the provider refuses or is slow) keeps its reference:
the message is never held back or dropped for it; the log says why.

Fetched: Telegram files (``telegram-file:``), WhatsApp media
(``whatsapp-media:``), Slack private files (``slack-file:``) and LINE content
(``line-content:``). Not fetched: Channel Talk files (no documented download
endpoint could be found: the URL or ``channeltalk-file:`` id stays), Kakao
(the skill payload carries no files), Twilio ``MediaUrl``s (kept as links).

A file whose declared type says nothing (``application/octet-stream``, e.g. a
LINE "file" message) is judged by its name's extension instead.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from libs.common.blobstore import BlobStore
from libs.common.events.interaction import Attachment
from libs.providers.inbound import ChatEvent
from libs.providers.integrations import Integration, Provider
from libs.providers.line import media as line_media
from libs.providers.media import MediaUnavailable
from libs.providers.slack import media as slack_media
from libs.providers.telegram import media as telegram_media
from libs.providers.whatsapp import media as whatsapp_media

log = logging.getLogger(__name__)

Downloader = Callable[..., Awaitable[bytes]]
#: Who fetches which reference: ``<prefix><provider id>`` as the normalisers write them.
DOWNLOADERS: dict[Provider, Downloader] = {
    Provider.TELEGRAM: telegram_media.download,
    Provider.WHATSAPP: whatsapp_media.download,
    Provider.SLACK: slack_media.download,
    Provider.LINE: line_media.download,
}
PREFIXES = (
    telegram_media.REFERENCE_PREFIX,
    whatsapp_media.REFERENCE_PREFIX,
    slack_media.REFERENCE_PREFIX,
    line_media.REFERENCE_PREFIX,
)
#: Declared types that say nothing about the file.
UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
#: Python's built-in table only: no system mime.types read (same answer everywhere).
KNOWN_TYPES = mimetypes.MimeTypes()


@dataclass(frozen=True)
class MediaPolicy:
    max_bytes: int = 10 * 1024 * 1024
    #: Declared types fetched; prefixes end with "/".
    allowed_types: tuple[str, ...] = ("image/", "application/pdf", "audio/", "video/")
    timeout_s: float = 10.0

    def allows(self, content_type: str) -> bool:
        declared = content_type.split(";", 1)[0].strip().lower()
        return any(
            declared.startswith(t) if t.endswith("/") else declared == t for t in self.allowed_types
        )


class MediaFetcher:
    def __init__(self, blobs: BlobStore, client: httpx.AsyncClient, policy: MediaPolicy) -> None:
        self._blobs = blobs
        self._client = client
        self._policy = policy

    async def resolve(self, integration: Integration, events: list[ChatEvent]) -> list[ChatEvent]:
        if integration.provider not in DOWNLOADERS:
            return events
        return [await self._resolve_event(integration, event) for event in events]

    async def _resolve_event(self, integration: Integration, event: ChatEvent) -> ChatEvent:
        interaction = event.interaction
        if not any(_reference(a) for a in interaction.attachments):
            return event
        attachments = [
            await self._fetch(integration, event.id, a) if _reference(a) else a
            for a in interaction.attachments
        ]
        fetched = interaction.model_copy(update={"attachments": attachments})
        return ChatEvent(id=event.id, interaction=fetched)

    async def _fetch(
        self, integration: Integration, event_id: str, attachment: Attachment
    ) -> Attachment:
        reference = _reference(attachment)
        assert reference is not None
        provider = integration.provider
        where = {"provider": provider.value, "integration": integration.id, "event_id": event_id}
        content_type = declared_type(attachment)
        if not self._policy.allows(content_type):
            log.info("attachment type %s not fetched (allow-list)", content_type, extra=where)
            return attachment
        if attachment.size is not None and attachment.size > self._policy.max_bytes:
            log.info("attachment of %d bytes not fetched (limit)", attachment.size, extra=where)
            return attachment
        try:
            async with asyncio.timeout(self._policy.timeout_s):
                data = await DOWNLOADERS[provider](
                    self._client, integration, reference, max_bytes=self._policy.max_bytes
                )
        except (MediaUnavailable, httpx.HTTPError, TimeoutError) as exc:
            log.warning("attachment kept as a reference: %s", exc, extra=where)
            return attachment
        sha256 = await self._blobs.put_async(data)
        fetched = {"sha256": sha256, "size": len(data), "url": None, "content_type": content_type}
        return attachment.model_copy(update=fetched)


def declared_type(attachment: Attachment) -> str:
    """The provider's type, or the one the file name implies when the provider gave none."""
    declared = attachment.content_type.split(";", 1)[0].strip().lower()
    if declared not in UNDECLARED or not attachment.name:
        return attachment.content_type
    guessed, _ = KNOWN_TYPES.guess_type(attachment.name, strict=True)
    return guessed or attachment.content_type


def _reference(attachment: Attachment) -> str | None:
    """The provider's id of a file not fetched yet (the webhook named it, nothing more)."""
    url = attachment.url or ""
    for prefix in PREFIXES:
        if url.startswith(prefix):
            return url.removeprefix(prefix)
    return None
