"""Delivery failures, by whether a retry can help."""

from __future__ import annotations


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientDeliveryError(DeliveryError):
    """The other side is away, slow or busy: retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """The other side refused this notice for good: dead-letter, do not retry."""
