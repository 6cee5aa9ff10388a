"""json_response sends what Starlette's Response of model_dump_json sends, byte for byte."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.responses import Response

from libs.common.events import InteractionKind
from libs.common.webhooks.answers import json_response
from libs.providers.webchat.inbound import WebchatAck
from libs.providers.webhooks import WebhookAck
from services.phone_log.schemas import Receipt


class Optional(BaseModel):
    text: str | None = None
    count: int | None = None


async def _wire(response: Response) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await response({"type": "http"}, None, send)  # type: ignore[arg-type]
    return sent


def _reference(body: BaseModel, status_code: int, exclude_none: bool) -> Response:
    """What json_response returned before: Starlette builds it from model_dump_json."""
    content = body.model_dump_json(exclude_none=exclude_none)
    return Response(content, status_code=status_code, media_type="application/json")


ids = st.lists(st.text(max_size=30), max_size=5)
acks = st.builds(WebhookAck, accepted=st.integers(0, 10**6), event_ids=ids)
webchat_acks = st.builds(
    WebchatAck, accepted=st.integers(0, 9), event_ids=ids, visitor_token=st.text(max_size=80)
)
optionals = st.builds(Optional, text=st.none() | st.text(), count=st.none() | st.integers())
receipts = st.builds(  # phone_log's answers
    Receipt,
    status=st.sampled_from(["accepted", "duplicate", "ignored"]),
    event_id=st.none() | st.text(max_size=40),
    kind=st.none() | st.sampled_from(list(InteractionKind)),
    call_id=st.none() | st.text(max_size=40),
    detail=st.none() | st.text(max_size=40),
)


@given(
    body=acks | webchat_acks | optionals | receipts,
    status_code=st.sampled_from([200, 202, 204, 304, 100, 400, 503]),
    exclude_none=st.booleans(),
)
async def test_the_same_answer_as_starlettes_response(
    body: BaseModel, status_code: int, exclude_none: bool
) -> None:
    ours = json_response(body, status_code, exclude_none=exclude_none)
    reference = _reference(body, status_code, exclude_none)
    assert ours.body == reference.body
    assert ours.raw_headers == reference.raw_headers
    assert ours.headers == reference.headers
    assert await _wire(ours) == await _wire(reference)
