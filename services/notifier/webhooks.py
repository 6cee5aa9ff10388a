"""Outgoing webhooks: Slack-style incoming webhooks and signed JSON POSTs.

Signed JSON: the body is our JSON document (delivery id, event id and type,
``timestamp`` in Unix seconds, the conversation and the event), and

    X-Omnidesk-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
    X-Omnidesk-Delivery:  <delivery id, stable across retries: dedupe on it>
    X-Omnidesk-Timestamp: <same Unix seconds as in the body>

Because the timestamp is inside the signed body, a receiver that checks the
signature (``libs.common.webhooks.signatures.verify_hmac_sha256`` with
``prefix="sha256="``) and rejects stale timestamps is safe from replays.
Target URLs are secrets (Slack's embed a token): they never reach logs or
outcomes; the target's name does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import httpx

from libs.common.events import RoutingEvent
from libs.common.ids import deterministic_id
from libs.common.webhooks.signatures import hmac_sha256_hex
from services.notifier.errors import PermanentDeliveryError, TransientDeliveryError
from services.notifier.webhook_targets import WebhookTarget

SIGNATURE_HEADER = "X-Omnidesk-Signature"
DELIVERY_HEADER = "X-Omnidesk-Delivery"
TIMESTAMP_HEADER = "X-Omnidesk-Timestamp"
EVENT_HEADER = "X-Omnidesk-Event"

#: Statuses after which the same request may succeed later.
_RETRYABLE_STATUS = frozenset({408, 425, 429})


class TransientWebhookError(TransientDeliveryError):
    pass


class PermanentWebhookError(PermanentDeliveryError):
    pass


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    target_name: str
    url: str
    body: bytes
    headers: dict[str, str]
    delivery_id: str


def delivery_id_for(event_id: str, target_name: str) -> str:
    return deterministic_id("notifier.webhook", event_id, target_name)


def signed_json_request(
    target: WebhookTarget,
    *,
    event: RoutingEvent,
    event_id: str,
    now: datetime,
) -> WebhookRequest:
    assert target.secret is not None  # the settings validator guarantees it
    delivery_id = delivery_id_for(event_id, target.name)
    timestamp = int(now.timestamp())
    document = {
        "delivery_id": delivery_id,
        "event_id": event_id,
        "event_type": event.ce_type,
        "timestamp": timestamp,
        "conversation": event.conversation.model_dump(mode="json"),
        "data": event.model_dump(mode="json", exclude={"conversation"}),
    }
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    signature = hmac_sha256_hex(target.secret.get_secret_value(), body)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: f"sha256={signature}",
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_HEADER: event.ce_type,
    }
    return WebhookRequest(target.name, target.url.get_secret_value(), body, headers, delivery_id)


def slack_request(target: WebhookTarget, *, text: str, event_id: str) -> WebhookRequest:
    delivery_id = delivery_id_for(event_id, target.name)
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", DELIVERY_HEADER: delivery_id}
    return WebhookRequest(target.name, target.url.get_secret_value(), body, headers, delivery_id)


class WebhookSender:
    """Posts requests with a shared ``httpx.AsyncClient`` built by the composition root."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, request: WebhookRequest) -> None:
        try:
            response = await self._client.post(
                request.url, content=request.body, headers=request.headers
            )
        except httpx.TransportError as exc:  # connect/read errors and timeouts
            raise TransientWebhookError(
                f"webhook {request.target_name}: {type(exc).__name__}"
            ) from None
        raise_for_status(request.target_name, response.status_code)


def raise_for_status(target_name: str, status: int) -> None:
    if 200 <= status < 300:
        return
    message = f"webhook {target_name} answered HTTP {status}"
    if status in _RETRYABLE_STATUS or status >= 500:
        raise TransientWebhookError(message, code=status)
    raise PermanentWebhookError(message, code=status)
