"""Request latency of webhook routes, labelled by the provider the route named.

A plain ASGI middleware (no per-request task or body buffering). The label
comes from ``request.state`` set by the route, never from the URL, so a
client cannot inflate the label set.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from libs.common.webhooks.errors import PROVIDER_STATE
from libs.common.webhooks.metrics import webhook_seconds


class WebhookTimingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            provider = scope.get("state", {}).get(PROVIDER_STATE)
            if provider is not None:
                webhook_seconds(provider)(time.perf_counter() - started)
