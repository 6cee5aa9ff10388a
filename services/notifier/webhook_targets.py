"""Outgoing webhook targets (``NOTIFIER_WEBHOOK_TARGETS``): plain values.

Apart from the settings module so the pure decisions can take targets without
importing settings (issue #19: decisions take plain values).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, SecretStr, model_validator


class WebhookKind(StrEnum):
    SLACK = "slack"  # Slack-style incoming webhook: {"text": …}
    SIGNED_JSON = "signed_json"  # our JSON document, HMAC-SHA256 signed


class WebhookTarget(BaseModel):
    """One outgoing webhook (``NOTIFIER_WEBHOOK_TARGETS`` is a JSON list of these)."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Shown in outcomes.")
    kind: WebhookKind = Field(WebhookKind.SIGNED_JSON, description="slack or signed_json.")
    url: SecretStr = Field(..., description="Secret: Slack URLs embed their token.")
    secret: SecretStr | None = Field(None, description="HMAC key; required for signed_json.")
    event_types: list[str] = Field(
        default_factory=lambda: ["support.conversation.escalated"],
        description="CloudEvents types delivered to this target.",
    )

    @model_validator(mode="after")
    def _signed_needs_secret(self) -> WebhookTarget:
        if self.kind is WebhookKind.SIGNED_JSON and not self.secret:
            raise ValueError(f"webhook target {self.name}: signed_json needs a secret")
        url = self.url.get_secret_value()
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"webhook target {self.name}: url must be http(s)")
        return self
