"""What every route needs, built once by the composition root and passed down."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from libs.common.events.base import utc_now
from libs.common.webhooks import (
    BusUnavailable,
    MalformedPayload,
    public_url,
    read_body,
)
from libs.common.webhooks.errors import label_provider
from libs.providers.inbound import ChatEvent, IngestContext, ingest_context
from libs.providers.integrations import Integration, IntegrationRegistry, Provider
from libs.providers.webhooks import InboundOptions
from services.chat_ingest.ingest import ChatIngest
from services.chat_ingest.media import MediaFetcher
from services.chat_ingest.settings import ChatIngestSettings


@dataclass
class ChatIngestState:
    settings: ChatIngestSettings
    registry: IntegrationRegistry
    ingest: ChatIngest | None = None  # set in the lifespan, once Kafka is connected
    media: MediaFetcher | None = None  # set in the lifespan when CHAT_INGEST_BLOB_DIR is set
    clock: Callable[[], datetime] = utc_now  # injected by tests: signature windows are exact

    @functools.cached_property
    def options(self) -> InboundOptions:
        settings = self.settings
        return InboundOptions(
            slack_tolerance_s=settings.slack_tolerance_s,
            kakao_ack_text_ko=settings.kakao_ack_text_ko,
            kakao_ack_text_en=settings.kakao_ack_text_en,
            kakao_dedupe_window_s=settings.kakao_dedupe_window_s,
        )

    def integration(self, request: Request, provider: Provider, integration_id: str) -> Integration:
        """Label the request with its provider (for rejection metrics) and look it up (404)."""
        label_provider(request, provider.value)
        return self.registry.get(provider, integration_id)

    async def body(self, request: Request) -> bytes:
        return await read_body(request, limit=self.settings.max_body_bytes)

    def public_url(self, request: Request) -> str:
        return public_url(
            request,
            trust_forwarded=self.settings.trust_forwarded_headers,
            base_url=self.settings.public_base_url,
        )

    def context(
        self, integration: Integration, received_at: datetime | None = None
    ) -> IngestContext:
        return ingest_context(
            integration.id,
            received_at or self.clock(),
            integration.default_region or self.settings.default_region,
            integration.routing,
            integration.agent_ids,
        )

    async def keep_unreadable(
        self, request: Request, integration: Integration, body: bytes, exc: MalformedPayload
    ) -> None:
        """An authenticated body that cannot be read: keep the raw bytes on the dead-letter
        topic (the route then answers the 400; 503 if Kafka fails). Called from an
        ``except`` around parsing, not a context manager: that cost ~3 µs per request."""
        await self.require_ingest().quarantine.keep(
            body,
            provider=integration.provider.value,
            integration_id=integration.id,
            error=f"{exc.reason}: {exc.detail}",
            content_type=request.headers.get("content-type"),
        )

    async def resolve_media(
        self, integration: Integration, events: list[ChatEvent]
    ) -> list[ChatEvent]:
        """Provider file references fetched into the blob store (or kept, never dropped)."""
        if self.media is None or not events:
            return events
        return await self.media.resolve(integration, events)

    def require_ingest(self) -> ChatIngest:
        """The connected ChatIngest; 503 while Kafka has not been reached yet."""
        if self.ingest is None:
            raise BusUnavailable(
                "not connected to Kafka yet", retry_after_s=self.settings.retry_after_s
            )
        return self.ingest


async def get_runtime(request: Request) -> ChatIngestState:
    return request.app.state.runtime


ChatIngestStateDep = Annotated[ChatIngestState, Depends(get_runtime)]
