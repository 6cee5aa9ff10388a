"""Telegram Bot API: inbound ``Update`` webhooks and outbound ``sendMessage``."""

from libs.providers.telegram import inbound, outbound
from libs.providers.telegram.inbound import PROVIDER, TelegramUpdate, normalise, verify
from libs.providers.telegram.outbound import (
    MAX_TEXT_CHARS,
    build_request,
    check,
    classify,
)

__all__ = [
    "MAX_TEXT_CHARS",
    "PROVIDER",
    "TelegramUpdate",
    "build_request",
    "check",
    "classify",
    "inbound",
    "normalise",
    "outbound",
    "verify",
]
