"""Delivery failures, by whether a retry can help."""

from __future__ import annotations

from libs.common.kafka.consumer import DependencyUnavailable


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientDeliveryError(DeliveryError):
    """The other side is away, slow or busy: retry with backoff."""


class RelayUnavailable(TransientDeliveryError, DependencyUnavailable):
    """The relay cannot be reached at all (refused, reset, connect timeout).

    Not this notice's fault: after the retry budget the consumer waits the
    outage out and sends when the relay is back, instead of failing the notice.
    """


class PermanentDeliveryError(DeliveryError):
    """The other side refused this notice for good: dead-letter, do not retry."""
