"""Authenticated input we cannot read is kept, not dropped (architecture §4).

The shared :class:`libs.common.webhooks.quarantine.Quarantine` does the work:
the raw body goes to the dead-letter topic with ``dlq_*`` headers naming the
provider, the integration and the problem; only then does the provider get
its 400. If Kafka cannot take it either, the provider gets 503 and retries.
"""

from __future__ import annotations

from libs.common.webhooks.quarantine import Quarantine, RawSender

__all__ = ["RawSender", "quarantine"]


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
    keeper = Quarantine(sender, topic=topic, service="phone_log", retry_after_s=retry_after_s)
    await keeper.keep(
        body,
        provider=provider,
        integration_id=integration_id,
        error=error,
        content_type=content_type,
    )
