"""Console settings (``ROUTER_CONSOLE_*``), built by the composition root."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_CONSOLE_", extra="ignore")

    #: Signs session cookies and CSRF tokens. Unset: a random key per process, so sessions
    #: end when the router restarts; set it when running several replicas.
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_hex(32)))
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    #: Mark cookies Secure always (TLS terminates in front of the router) …
    secure_cookies: bool = False
    #: … or when the proxy says ``X-Forwarded-Proto: https``.
    trust_forwarded_proto: bool = True
    #: How often the live feed looks for new outbox rows (the page's update latency floor).
    live_poll_s: float = Field(0.2, gt=0, le=5)
    #: An event stream ends after this long and the browser reconnects (EventSource does so by
    #: itself): open streams never hold up a graceful shutdown for longer.
    live_stream_max_s: float = Field(60.0, gt=0, le=3600)
    page_size: int = Field(100, ge=10, le=500)
