"""Oversize bodies get 413 and deeply nested JSON 400/413 — never a 500 — on every route.

Each body is correctly signed for its provider, so it reaches the parser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest

from libs.common.webhooks.signatures import (
    twilio_signature,
)
from libs.providers.integrations import Provider
from tests.helpers.chat_ingest import credentials
from tests.helpers.phone_log import ASTERISK_TOKEN, CTI_TOKEN, TWILIO_TOKEN, basic_auth
from tests.helpers.phone_log import BASE_URL as PHONE_URL
from tests.integration.chat_ingest.helpers import SECRETS, running_app
from tests.integration.phone_log.helpers import app_on_broker

pytestmark = pytest.mark.integration

LIMIT = 64_000
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEPTH = 100_000


def deep_bodies() -> dict[str, bytes]:
    return {
        "arrays": b"[" * DEPTH + b"]" * DEPTH,
        "objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
        "unterminated": b'{"a":[' * DEPTH,
        "in-a-valid-envelope": b'{"text":' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    }


def phone_signed(route: str, content_type: str = JSON) -> tuple[str, dict[str, str]]:
    headers = {"Content-Type": content_type}
    if route == "asterisk":
        return "/asterisk/pbx-seoul/cdr", {**headers, "X-Omnidesk-Token": ASTERISK_TOKEN}
    if route == "freeswitch":
        return "/freeswitch/fs-seoul/cdr", {**headers, "Authorization": basic_auth()}
    if route == "cti":
        return f"/cti/cti-main/{CTI_TOKEN}", headers
    path = {"twilio-status": "/twilio/kr-main/voice/status"}.get(
        route, "/twilio/kr-main/voice/recording"
    )
    return path, {"Content-Type": FORM, "X-Twilio-Signature": "unchecked-before-the-size"}


JSON_CHAT = [p for p in Provider if p is not Provider.TWILIO]
PHONE_ROUTES = ["twilio-status", "twilio-recording", "asterisk", "freeswitch", "cti"]
PHONE_JSON = ["asterisk", "freeswitch", "cti"]


async def _chunks(data: bytes, size: int = 16_384) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _oversize(content_type: str) -> bytes:
    if content_type == FORM:
        return urlencode({"Body": "x" * (LIMIT * 2)}).encode()
    return b'{"text":"' + b"x" * (LIMIT * 2) + b'"}'


@pytest.mark.parametrize("provider", list(Provider), ids=str)
async def test_chat_oversize_bodies_get_413(kafka_topics, provider):
    async with running_app(kafka_topics, max_body_bytes=LIMIT) as client:
        path, headers = credentials(provider, b"{}", secret=SECRETS[provider], integration_id="it")
        body = _oversize(headers["Content-Type"])
        declared = await client.post(path, content=body, headers=headers)
        chunked = await client.post(path, content=_chunks(body), headers=headers)
    assert declared.status_code == 413, declared.text
    assert chunked.status_code == 413, chunked.text


@pytest.mark.parametrize("route", PHONE_ROUTES)
async def test_phone_oversize_bodies_get_413(kafka_topics, route):
    async with app_on_broker(kafka_topics, max_body_bytes=LIMIT) as client:
        path, headers = phone_signed(route)
        if route.startswith("twilio"):
            headers["X-Twilio-Signature"] = twilio_signature(TWILIO_TOKEN, PHONE_URL + path, [])
        body = _oversize(headers["Content-Type"])
        declared = await client.post(path, content=body, headers=headers)
        chunked = await client.post(path, content=_chunks(body), headers=headers)
    assert declared.status_code == 413, declared.text
    assert chunked.status_code == 413, chunked.text


def _refused_cleanly(status: int) -> bool:
    return status in (400, 413)


@pytest.mark.parametrize("provider", JSON_CHAT, ids=str)
async def test_chat_deeply_nested_json_is_refused_not_500(kafka_topics, provider):
    async with running_app(kafka_topics) as client:
        answers = {}
        for name, body in deep_bodies().items():
            path, headers = credentials(
                provider, body, secret=SECRETS[provider], integration_id="it"
            )
            answers[name] = (await client.post(path, content=body, headers=headers)).status_code
    assert all(_refused_cleanly(s) for s in answers.values()), answers


@pytest.mark.parametrize("route", PHONE_JSON)
async def test_phone_deeply_nested_json_is_refused_not_500(kafka_topics, route):
    async with app_on_broker(kafka_topics) as client:
        answers = {}
        for name, body in deep_bodies().items():
            path, headers = phone_signed(route)
            answers[name] = (await client.post(path, content=body, headers=headers)).status_code
    assert all(_refused_cleanly(s) for s in answers.values()), answers


@pytest.mark.parametrize("route", ["asterisk", "cti"])
async def test_phone_form_with_too_many_fields_is_refused_not_500(kafka_topics, route):
    body = "&".join(f"f{n}=v" for n in range(5000)).encode()
    async with app_on_broker(kafka_topics) as client:
        path, headers = phone_signed(route, FORM)
        answer = await client.post(path, content=body, headers=headers)
    assert _refused_cleanly(answer.status_code), answer.text
