"""What fetching a provider's media can fail with (Telegram files, WhatsApp media)."""

from __future__ import annotations


class MediaUnavailable(RuntimeError):
    """The file could not be fetched (refused, too big, gone); the reference stays."""
