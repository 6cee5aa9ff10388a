"""The longest text each provider accepts in one message, without loading the providers.

The router checks an agent's reply against these before it is queued; it never sends,
so importing the provider table (``libs.providers.registry``: every provider's
inbound and outbound modules, httpx and its CLI's rich and pygments, phonenumbers)
would cost it ~15 MB of RSS for eight numbers. Keyed by the provider's name (the
``Provider`` value) for the same reason. The registry's
``Capabilities.max_text_chars`` stays the source: a unit test holds this table to it.
"""

from __future__ import annotations

MAX_TEXT_CHARS: dict[str, int] = {
    "telegram": 4096,
    "whatsapp": 4096,
    "twilio": 1600,
    "line": 5000,
    "slack": 40_000,
    "channeltalk": 10_000,
    "kakao": 1000,
    "webchat": 10_000,
}
