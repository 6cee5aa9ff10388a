"""Authenticated input we cannot read is kept, never dropped (architecture §4).

When a request passed its signature check but its body cannot be parsed or
normalised, the raw bytes go to the dead-letter topic with ``dlq_*`` headers
(stage, provider, integration, the problem — never the body's content in a
header) before the provider gets its 400. If Kafka cannot take them either,
the answer is 503 so the provider retries. Operators replay dead letters once
the parser is fixed; event ids are deterministic, so a replay is harmless.
"""

from __future__ import annotations

import logging
from typing import Protocol

from libs.common.events import DeadLetter, utc_now
from libs.common.kafka.producer import PublishError
from libs.common.webhooks.errors import BusUnavailable
from libs.common.webhooks.metrics import WEBHOOK_EVENTS

log = logging.getLogger(__name__)

#: Dead-letter error texts are capped; they name the problem, never the body.
MAX_ERROR_CHARS = 500


class RawSender(Protocol):
    """The raw half of :class:`~libs.common.kafka.producer.EventProducer`."""

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: list
    ) -> object: ...


class Quarantine:
    def __init__(
        self, sender: RawSender, *, topic: str, service: str, retry_after_s: int = 5
    ) -> None:
        self._sender = sender
        self.topic = topic
        self._service = service
        self._retry_after_s = retry_after_s

    async def keep(
        self,
        body: bytes,
        *,
        provider: str,
        integration_id: str,
        error: str,
        content_type: str | None,
    ) -> None:
        """Put the raw body on the dead-letter topic; BusUnavailable (503) if Kafka fails."""
        headers = self.headers(
            provider=provider, integration_id=integration_id, error=error, content_type=content_type
        )
        try:
            await self._sender.send(
                self.topic, body, key=f"{provider}:{integration_id}", headers=headers
            )
        except PublishError as exc:
            raise BusUnavailable(
                "Kafka did not take the unreadable payload",
                retry_after_s=self._retry_after_s,
                provider=provider,
                integration=integration_id,
            ) from exc
        WEBHOOK_EVENTS.labels(provider, "quarantined").inc()
        log.warning(
            "unreadable %s payload kept on the dead-letter topic",
            provider,
            extra={"provider": provider, "integration": integration_id, "topic": self.topic},
        )

    def headers(
        self, *, provider: str, integration_id: str, error: str, content_type: str | None
    ) -> list[tuple[str, bytes]]:
        letter = DeadLetter(
            stage=f"{self._service}.{provider}",
            error_type="MalformedPayload",
            error=error[:MAX_ERROR_CHARS],
            attempts=1,
            failed_at=utc_now(),
            source=f"{self._service}:{provider}/{integration_id}",
        )
        original = [("content-type", (content_type or "application/octet-stream").encode())]
        return original + letter.to_headers()
