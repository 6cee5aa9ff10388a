"""WhatsApp Cloud API fixture: ``POST /{Version}/{Phone-Number-ID}/messages`` and statuses.

Follows developers.facebook.com/documentation/business-messaging/whatsapp/:
- reference/messages (Messages API) and messages/text-messages: JSON with
  ``messaging_product: "whatsapp"``, ``to``, ``type``; ``text.body`` ≤ 4096;
  ``Authorization: Bearer``; success ``{"messaging_product": "whatsapp",
  "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid.…"}]}``.
- messages/interactive-reply-buttons-messages: ``interactive.type: "button"``,
  1-3 buttons of ``type: "reply"`` with unique ``id`` and ``title`` ≤ 20,
  body ≤ 1024; messages/interactive-list-messages: ≤ 10 rows, ``button`` ≤ 20.
- messages/template-messages: ``template.name`` and ``template.language.code``.
- support/error-codes: Graph error body ``{"error": {"message", "type",
  "code", "error_data": {"messaging_product", "details"}, "fbtrace_id"}}``;
  190 invalid token (HTTP 401), 100 invalid parameter, 131047 re-engagement
  message (> 24 h since the customer's last message), 132001 template does not
  exist, 130429 rate limit hit.
- webhooks/reference/messages/status: ``statuses[{id, status, timestamp,
  recipient_id, errors?}]`` signed ``X-Hub-Signature-256``
  (webhooks/getting-started#event-notifications).
- cloud-api/reference/media: ``GET /{Version}/{Media-ID}`` (bearer) answers
  ``messaging_product``, ``url``, ``mime_type``, ``sha256``, ``file_size``,
  ``id``; an unknown id is Graph error 100 (``GraphMethodException``, 400);
  the bytes are at that ``url``, fetched with the same bearer token (here
  ``/whatsapp_business/attachments/?mid=…`` on this fixture).
Errors such as 131047 arrive synchronously, by status webhook, or both (the
error-codes page says so); ``window_errors_by_webhook`` switches to the
webhook form (200, then a ``failed`` status).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.common.webhooks.signatures import hmac_sha256_hex
from tests.provider_fakes.base import (
    FakeProvider,
    Injected,
    Recorded,
    bearer,
    json_refusal,
    media_type,
)

WINDOW = timedelta(hours=24)
TOP_LEVEL = {
    "messaging_product",
    "recipient_type",
    "to",
    "type",
    "text",
    "interactive",
    "template",
    "context",
    "biz_opaque_callback_data",
    "image",
    "audio",
    "document",
    "video",
    "sticker",
    "location",
    "contacts",
    "reaction",
}


def graph_error(
    code: int, message: str, *, details: str | None = None, type_: str = "OAuthException"
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": type_,
        "code": code,
        "fbtrace_id": secrets.token_urlsafe(12),
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


def invalid(message: str, reason: str) -> Exception:
    return json_refusal(400, graph_error(100, f"(#100) {message}"), reason)


@dataclass
class WhatsAppFake(FakeProvider):
    name: str = "whatsapp"
    access_token: str = "EAAG-test-whatsapp-access-token"
    phone_number_id: str = "106540352242922"
    api_version: str = "v21.0"
    app_secret: str = "whatsapp-app-secret-0123456789"
    templates: set[str] = field(default_factory=lambda: {"omnidesk_reply"})
    last_inbound: dict[str, datetime] = field(default_factory=dict)
    #: media id → (bytes, mime type) customers "sent"; GET /{version}/{media_id} serves them.
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    window_errors_by_webhook: bool = False
    pending_statuses: list[dict[str, Any]] = field(default_factory=list)
    #: The switch: where Meta would POST statuses (chat_ingest's WhatsApp route), and which
    #: statuses each accepted message reports (e.g. ("sent", "delivered", "read")).
    status_webhook_url: str | None = None
    report_statuses: tuple[str, ...] = ()

    def reset(self) -> None:
        super().reset()
        self.last_inbound.clear()
        self.pending_statuses.clear()
        self.window_errors_by_webhook = False
        self.status_webhook_url = None
        self.report_statuses = ()

    def customer_wrote(self, wa_id: str, at: datetime | None = None) -> None:
        """The customer's last message: opens the 24-hour customer-service window."""
        self.last_inbound[wa_id] = at or datetime.now(UTC)

    def routes(self) -> list[Route]:
        return [
            Route(
                "/{version}/{phone_number_id}/messages",
                self.endpoint(self.messages),
                methods=["POST"],
            ),
            Route(
                "/whatsapp_business/attachments/",
                self.endpoint(self.media_bytes),
                methods=["GET"],
            ),
            Route("/{version}/{media_id}", self.endpoint(self.media_url), methods=["GET"]),
        ]

    def add_media(self, media_id: str, data: bytes, mime_type: str) -> None:
        self.media[media_id] = (data, mime_type)

    def _bearer_or_190(self, recorded: Recorded) -> None:
        if bearer(recorded) != self.access_token:
            raise json_refusal(
                401,
                graph_error(190, "Invalid OAuth access token - Cannot parse access token"),
                "bad token",
            )

    async def media_url(self, request: Request, recorded: Recorded) -> Response:
        self._bearer_or_190(recorded)
        media_id = request.path_params["media_id"]
        if media_id not in self.media:
            raise json_refusal(
                400,
                graph_error(
                    100,
                    f"Unsupported get request. Object with ID '{media_id}' does not exist",
                    type_="GraphMethodException",
                ),
                "unknown media id",
            )
        data, mime_type = self.media[media_id]
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{request.base_url}whatsapp_business/attachments/?mid={media_id}",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": str(len(data)),
                "id": media_id,
            }
        )

    async def media_bytes(self, request: Request, recorded: Recorded) -> Response:
        self._bearer_or_190(recorded)
        found = self.media.get(request.query_params.get("mid", ""))
        if found is None:
            raise json_refusal(404, graph_error(100, "Not found"), "unknown media")
        return Response(found[0], media_type=found[1])

    def injected_response(self, failure: Injected) -> Response:
        if failure.kind == "rate_limited":
            return JSONResponse(
                graph_error(130429, "(#130429) Rate limit hit"),
                status_code=429,
                headers={"Retry-After": str(failure.retry_after_s)},
            )
        if failure.kind == "permanent":
            return JSONResponse(graph_error(131026, "(#131026) Message undeliverable"), 400)
        return JSONResponse(graph_error(131000, "(#131000) Something went wrong"), 500)

    async def messages(self, request: Request, recorded: Recorded) -> Response:
        if bearer(recorded) != self.access_token:
            raise json_refusal(
                401,
                graph_error(190, "Invalid OAuth access token - Cannot parse access token"),
                "bad token",
            )
        if request.path_params["phone_number_id"] != self.phone_number_id:
            raise json_refusal(
                400,
                graph_error(
                    100,
                    "Unsupported post request. Object with ID does not exist",
                    type_="GraphMethodException",
                ),
                "unknown phone number id",
            )
        if not request.path_params["version"].startswith("v"):
            raise json_refusal(400, graph_error(2635, "(#2635) unknown API version"), "version")
        if media_type(recorded) != "application/json" or not isinstance(recorded.body, dict):
            raise invalid("The parameter messaging_product is required.", "not JSON")
        body = recorded.body
        unknown = set(body) - TOP_LEVEL
        if unknown:
            raise invalid(f'Unexpected key "{sorted(unknown)[0]}" on param.', "unknown field")
        if body.get("messaging_product") != "whatsapp":
            raise invalid("The parameter messaging_product is required.", "messaging_product")
        to = body.get("to")
        if not to:
            raise invalid("The parameter to is required.", "no to")
        kind = body.get("type", "text")
        {"text": self._text, "interactive": self._interactive, "template": self._template}.get(
            kind, self._unsupported
        )(body)
        wamid = f"wamid.{secrets.token_hex(16).upper()}"
        if kind != "template" and not self._window_open(str(to)):
            error = graph_error(
                131047,
                "(#131047) Re-engagement message",
                details=(
                    "Message failed to send because more than 24 hours have passed since the "
                    "customer last replied to this number."
                ),
            )
            if not self.window_errors_by_webhook:
                raise json_refusal(400, error, "outside the 24-hour window")
            self.pending_statuses.append(
                self.status(wamid, "failed", str(to), errors=[error["error"]])
            )
        else:
            self.pending_statuses.extend(
                self.status(wamid, state, str(to)) for state in self.report_statuses
            )
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": str(to).lstrip("+")}],
                "messages": [{"id": wamid}],
            },
            background=self.callbacks_after_answer(self.flush_statuses),
        )

    async def flush_statuses(self) -> None:
        """POST the pending statuses to ``status_webhook_url``, one signed webhook each."""
        if not self.status_webhook_url:
            return
        while self.pending_statuses:
            body, headers = self.status_webhook([self.pending_statuses.pop(0)])
            async with httpx.AsyncClient() as client:
                response = await client.post(self.status_webhook_url, content=body, headers=headers)
            self.status_answers.append(response.status_code)

    def _window_open(self, to: str) -> bool:
        last = self.last_inbound.get(to.lstrip("+"))
        return last is not None and datetime.now(UTC) - last < WINDOW

    def _text(self, body: dict[str, Any]) -> None:
        text = body.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
            raise invalid("The parameter text['body'] is required.", "no text.body")
        if len(text["body"]) > 4096:
            raise invalid("Param text['body'] must be at most 4096 characters long.", "too long")

    def _interactive(self, body: dict[str, Any]) -> None:
        interactive = body.get("interactive") or {}
        text = (interactive.get("body") or {}).get("text")
        if not text or len(text) > 1024:
            raise invalid("Param interactive['body']['text'] must be 1-1024 characters.", "body")
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            buttons = action.get("buttons") or []
            replies = [b.get("reply") or {} for b in buttons]
            if not 1 <= len(buttons) <= 3 or any(b.get("type") != "reply" for b in buttons):
                raise invalid(
                    "Param interactive['action']['buttons'] must have 1-3 reply buttons.", "buttons"
                )
            self._rows(replies)
        elif interactive.get("type") == "list":
            rows = [r for s in action.get("sections") or [] for r in s.get("rows") or []]
            if not action.get("button") or len(action["button"]) > 20 or not 1 <= len(rows) <= 10:
                raise invalid(
                    "Param interactive['action'] list must have a button label "
                    "(<= 20) and 1-10 rows.",
                    "list",
                )
            self._rows(rows, max_title=24)
        else:
            raise invalid("Param interactive['type'] is invalid.", "interactive type")

    def _rows(self, rows: list[dict[str, Any]], max_title: int = 20) -> None:
        ids = [r.get("id") for r in rows]
        if any(not i for i in ids) or len(set(ids)) != len(ids):
            raise invalid("Button/row ids must be unique and non-empty.", "ids")
        if any(not r.get("title") or len(r["title"]) > max_title for r in rows):
            raise invalid(f"Button/row title must be 1-{max_title} characters.", "titles")

    def _template(self, body: dict[str, Any]) -> None:
        template = body.get("template") or {}
        if not (template.get("language") or {}).get("code"):
            raise invalid("The parameter template['language']['code'] is required.", "language")
        if template.get("name") not in self.templates:
            raise json_refusal(
                404,
                graph_error(132001, "(#132001) Template name does not exist in the translation"),
                "unknown template",
            )

    def _unsupported(self, body: dict[str, Any]) -> None:
        raise invalid("Param type is not supported by this fixture.", "type")

    # --- status webhooks back to chat_ingest ---

    def status(
        self, wamid: str, state: str, recipient: str, errors: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        status: dict[str, Any] = {
            "id": wamid,
            "status": state,
            "recipient_id": recipient,
            "timestamp": str(int(datetime.now(UTC).timestamp())),
        }
        if errors:
            status["errors"] = [{"code": e["code"], "title": e["message"]} for e in errors]
        return status

    def status_webhook(self, statuses: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
        """The body Meta would POST and its X-Hub-Signature-256 header."""
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "WABA",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "phone_number_id": self.phone_number_id,
                                    "display_phone_number": "15550000000",
                                },
                                "statuses": statuses,
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac_sha256_hex(self.app_secret, body)
        return body, {"content-type": "application/json", "x-hub-signature-256": signature}

    async def emit_status(self, url: str, wamid: str, state: str, recipient: str) -> httpx.Response:
        """POST a correctly signed status webhook (delivered / read / failed) to ``url``."""
        body, headers = self.status_webhook([self.status(wamid, state, recipient)])
        async with httpx.AsyncClient() as client:
            return await client.post(url, content=body, headers=headers)
