"""Authenticated input we cannot read is kept, not dropped (DESIGN §4).

The raw body goes to the dead-letter topic with ``dlq_*`` headers naming the
provider, the integration and the problem; only then does the provider get
its 400. If Kafka cannot take it either, the provider gets 503 and retries.
"""

from __future__ import annotations

import logging
from typing import Protocol

from libs.common.events import DeadLetter, utc_now
from libs.common.kafka.producer import PublishError
from libs.common.webhooks import BusUnavailable

log = logging.getLogger(__name__)

#: Dead-letter error texts are capped; they name the problem, never the body.
MAX_ERROR_CHARS = 500


class RawSender(Protocol):
    """The raw half of :class:`~libs.common.kafka.producer.EventProducer`."""

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: list
    ) -> object: ...


def dead_letter_headers(
    *, provider: str, integration_id: str, error: str, content_type: str | None
) -> list[tuple[str, bytes]]:
    letter = DeadLetter(
        stage=f"phone_log.{provider}",
        error_type="MalformedPayload",
        error=error[:MAX_ERROR_CHARS],
        attempts=1,
        failed_at=utc_now(),
        source=f"phone_log:{provider}/{integration_id}",
    )
    original = [("content-type", (content_type or "application/octet-stream").encode())]
    return original + letter.to_headers()


async def quarantine(
    sender: RawSender,
    *,
    topic: str,
    body: bytes,
    provider: str,
    integration_id: str,
    error: str,
    content_type: str | None,
    retry_after_s: int,
) -> None:
    headers = dead_letter_headers(
        provider=provider, integration_id=integration_id, error=error, content_type=content_type
    )
    try:
        await sender.send(topic, body, key=f"{provider}:{integration_id}", headers=headers)
    except PublishError as exc:
        raise BusUnavailable(
            "Kafka did not take the unreadable payload",
            retry_after_s=retry_after_s,
            provider=provider,
            integration=integration_id,
        ) from exc
    log.warning(
        "unreadable %s payload kept on the dead-letter topic",
        provider,
        extra={"provider": provider, "integration": integration_id, "topic": topic},
    )
