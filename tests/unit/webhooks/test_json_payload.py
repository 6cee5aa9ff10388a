"""validate_json_payload: one parse on the hot path, the same model and the same 400s
as parsing with ``json`` and validating the dict (the path it replaced)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.common.webhooks.exceptions import MalformedPayload
from libs.common.webhooks.parsing import (
    parse_json_object,
    validate_json_payload,
    validate_payload,
)


class Visitor(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(..., min_length=1, max_length=20)
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message_id: str = Field(..., min_length=1)
    visitor: Visitor
    author: Literal["visitor", "agent"] = "visitor"
    count: int = Field(0, ge=0)
    sent_at: AwareDatetime | None = None
    tags: list[str] = Field(default_factory=list, max_length=3)


GOOD = {
    "message_id": "m-1",
    "visitor": {"id": "v-1", "email": "a@b.kr"},
    "count": 3,
    "sent_at": "2026-01-05T09:30:00+09:00",
    "tags": ["vip"],
    "unknown": {"ignored": True},
}


def _two_step(body: bytes) -> Message | str:
    try:
        return validate_payload(Message, parse_json_object(body))
    except MalformedPayload as exc:
        return f"{exc.reason}: {exc.detail}"


def _one_step(body: bytes) -> Message | str:
    try:
        return validate_json_payload(Message, body)
    except MalformedPayload as exc:
        return f"{exc.reason}: {exc.detail}"


def test_a_valid_body_becomes_the_model():
    message = validate_json_payload(Message, json.dumps(GOOD).encode())
    assert message.visitor.email == "a@b.kr"
    assert message.sent_at == datetime.fromisoformat("2026-01-05T09:30:00+09:00")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty_body: empty body; expected JSON"),
        (b'{"message_id": "\xff"}', "bad_encoding: body is not UTF-8"),
        (b'{"message_id": ', "malformed: body is not JSON"),
        (b"[1, 2]", "malformed: expected a JSON object, got list"),
        (b'{"message_id": "m", "visitor": {"id": ""}}', "malformed: visitor.id:"),
        (b'{"message_id": "m", "visitor": {"id": "v"}, "count": -1}', "malformed: count:"),
    ],
)
def test_refusals_say_what_the_two_step_path_said(body: bytes, expected: str):
    answer = _one_step(body)
    assert isinstance(answer, str) and answer.startswith(expected)
    assert answer == _two_step(body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "message_id": JSON_VALUES,
        "visitor": st.fixed_dictionaries(
            {}, optional={"id": JSON_VALUES, "email": st.sampled_from(["a@b", "x", None, 1])}
        )
        | JSON_VALUES,
        "author": st.sampled_from(["visitor", "agent", "bot", 1]),
        "count": st.integers(-2, 2) | st.sampled_from(["1", "x", 1.5, True]),
        "sent_at": st.sampled_from(
            ["2026-01-05T09:30:00+09:00", "2026-01-05T09:30:00", "yesterday", 1767571800, None]
        ),
        "tags": st.lists(JSON_VALUES, max_size=5) | JSON_VALUES,
    },
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(FIELDS)
def test_any_body_gets_the_same_model_or_the_same_refusal(fields: dict):
    body = json.dumps(fields).encode()
    assert _one_step(body) == _two_step(body)
