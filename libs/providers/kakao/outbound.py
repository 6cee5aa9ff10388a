"""Kakao i Open Builder outbound: the skill's callback, usable once within a minute.

References (kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/
ai_chatbot_callback_guide, i.kakao.com/docs/skill-callback-dev-guide): a
block with the Callback API enabled puts a one-time ``userRequest.callbackUrl``
in the SkillPayload; the skill answers at once with ``{"version": "2.0",
"useCallback": true}`` and POSTs the real SkillResponse to the callback URL,
which is valid for 1 minute and for one use. SkillResponse
(kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/answer_json_format):
``{"version": "2.0", "template": {"outputs": [{"simpleText": {"text"}}]
(1-3 outputs, simpleText ≤ 1000 characters), "quickReplies": [{"label",
"action": "message", "messageText"}] (≤ 10)}}``; the callback answers
``{"taskId", "status": "SUCCESS", "message", "timestamp"}``.
After the window no API reaches the user: the agent is told so
(``callback_expired`` / ``no_reply_path``). No delivery status exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import HttpRequest, OutboundMessage, SendOutcome, Unsendable
from libs.providers.sending import (
    accepted,
    as_dict,
    as_text,
    permanent,
    transient,
)

PROVIDER = Provider.KAKAO.value
MAX_TEXT_CHARS = 1000
MAX_QUICK_REPLIES = 10


def check(message: OutboundMessage, integration: Integration, now: datetime) -> None:
    path = message.path
    if not path.callback_url:
        raise Unsendable(
            "no_reply_path",
            "this Kakao conversation has no skill callback: Kakao offers no way to message "
            "the user later",
            provider=PROVIDER,
        )
    if path.callback_expires_at is None or now >= path.callback_expires_at:
        raise Unsendable(
            "callback_expired",
            "the Kakao skill callback is valid for 1 minute and for one use: it has expired "
            "or was already used (the router expires it at its use)",
            provider=PROVIDER,
        )
    if len(message.quick_replies) > MAX_QUICK_REPLIES:
        raise Unsendable(
            "too_many_quick_replies",
            f"Kakao shows at most {MAX_QUICK_REPLIES} quick replies",
            provider=PROVIDER,
            limit=MAX_QUICK_REPLIES,
        )


def skill_response(text: str, quick_replies: list[dict[str, str]] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"outputs": [{"simpleText": {"text": text}}]}
    if quick_replies:
        template["quickReplies"] = quick_replies
    return {"version": "2.0", "template": template}


def build_request(
    message: OutboundMessage, integration: Integration, *, now: datetime | None = None
) -> HttpRequest:
    quick = [
        {"label": r.label, "action": "message", "messageText": r.payload}
        for r in message.quick_replies
    ]
    # The callback URL is Kakao's own, per request; it is the only address there is.
    return HttpRequest(
        url=message.path.callback_url or "", json_body=skill_response(message.text, quick)
    )


def classify(status: int, body: Any, headers: Mapping[str, str]) -> SendOutcome:
    answer = as_dict(body)
    if status == 200 and answer.get("status") == "SUCCESS":
        return accepted(as_text(answer.get("taskId")), status)
    detail = as_text(answer.get("message") or body, 300)
    shared = transient(status, headers, detail)
    if shared is not None:
        return shared
    if status in (400, 404, 410) or answer.get("status") == "FAIL":
        return permanent(status, code="callback_expired", detail=detail)
    return permanent(status, code="rejected", detail=detail)
