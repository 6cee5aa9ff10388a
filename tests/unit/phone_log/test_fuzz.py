"""Property runs: nothing a client can send makes phone_log answer 5xx.

- schemathesis generates requests from the app's own OpenAPI document;
- hypothesis sends arbitrary bodies, and bodies in the rough shape of each
  provider's payload, that carry *correct* credentials, so the parsers behind
  the authentication are exercised too.
Bounded by example counts (no deadlines) to stay well under a minute.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.webhooks import twilio_signature
from services.phone_log.bootstrap import create_app
from tests.helpers.phone_log import (
    ASTERISK_TOKEN,
    BASE_URL,
    CTI_TOKEN,
    TWILIO_TOKEN,
    basic_auth,
    test_settings,
)
from tests.unit.phone_log.helpers import RecordingProducer

FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
#: Posting over ASGI with a prebuilt app is cheap: more examples for the parsers.
FUZZ_PARSERS = settings(FUZZ, max_examples=100)
KNOWN_IDS = {
    "twilio": "kr-main",
    "asterisk": "pbx-seoul",
    "freeswitch": "fs-seoul",
    "cti": "cti-main",
}


def test_openapi_generated_requests_never_5xx():
    app = create_app(test_settings(), producer=RecordingProducer())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8  # 5 webhooks, 3 probes
    statuses: set[int] = set()

    for operation in operations:
        _check_operation(operation, statuses)
    assert {200, 401, 404} <= statuses


def _check_operation(operation, statuses: set[int]) -> None:  # type: ignore[no-untyped-def]
    known_id = KNOWN_IDS.get(operation.path.split("/")[1])

    @FUZZ
    @given(case=operation.as_strategy(), known=st.booleans())
    def check(case, known: bool) -> None:  # type: ignore[no-untyped-def]
        if known and known_id:
            case.path_parameters["integration_id"] = known_id  # get past the 404
        response = case.call()
        statuses.add(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.status_code)

    check()


def _values() -> st.SearchStrategy[object]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=12)
        | st.sampled_from(
            [
                "0",
                "-1",
                "1795395600",
                "anonymous",
                "+821012345678",
                "",
                "newCall",
                "hangup",
                "ANSWERED",
                "NO ANSWER",
                "x1",
            ]
        )
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )


def _shaped(keys: list[str]) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from(keys), _values(), max_size=len(keys))


ASTERISK_KEYS = [
    "uniqueid",
    "disposition",
    "linkedid",
    "clid",
    "src",
    "dst",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "lastapp",
    "dstchannel",
    "direction",
]
FS_VARIABLES = [
    "uuid",
    "start_epoch",
    "answer_epoch",
    "end_epoch",
    "duration",
    "billsec",
    "hangup_cause",
    "caller_id_number",
    "destination_number",
    "last_app",
    "cc_cause",
    "cc_agent",
    "omnidesk_direction",
]
CTI_KEYS = [
    "event",
    "callId",
    "from",
    "to",
    "direction",
    "user",
    "cause",
    "answeringNumber",
    "timestamp",
    "originalCallId",
]
TWILIO_KEYS = [
    "CallSid",
    "CallStatus",
    "Direction",
    "From",
    "To",
    "Timestamp",
    "CallDuration",
    "ParentCallSid",
    "RecordingSid",
    "RecordingStatus",
    "RecordingUrl",
    "RecordingSource",
]


@pytest.fixture(scope="module")
def app():  # type: ignore[no-untyped-def]
    return create_app(test_settings(), producer=RecordingProducer())


def _post(app, path: str, body: bytes, headers: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    async def send() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return (await client.post(path, content=body, headers=headers)).status_code

    return asyncio.run(send())


def test_shaped_bodies_reach_the_parsers(app):
    """The strategies above are not all rejected at the door: valid ones get 200."""
    cdr = {"uniqueid": "x1", "disposition": "NO ANSWER", "src": "anonymous"}
    cti = {"event": "newCall", "callId": "x1", "from": "+821012345678"}
    assert (
        _post(
            app,
            "/asterisk/pbx-seoul/cdr",
            _as_body(cdr, False),
            {"X-Omnidesk-Token": ASTERISK_TOKEN},
        )
        == 200
    )
    assert _post(app, f"/cti/cti-main/{CTI_TOKEN}", _as_body(cti, True), {}) == 200


def _as_body(data: object, as_json: bool) -> bytes:
    if as_json or not isinstance(data, dict):
        return json.dumps(data).encode()
    return urlencode({k: str(v) for k, v in data.items()}).encode()


@FUZZ_PARSERS
@given(data=_shaped(ASTERISK_KEYS) | _values(), as_json=st.booleans(), raw=st.binary(max_size=40))
def test_authenticated_asterisk_bodies_never_5xx(app, data, as_json, raw):
    headers = {"X-Omnidesk-Token": ASTERISK_TOKEN}
    assert _post(app, "/asterisk/pbx-seoul/cdr", _as_body(data, as_json), headers) < 500
    assert _post(app, "/asterisk/pbx-seoul/cdr", raw, headers) < 500


@FUZZ_PARSERS
@given(data=_shaped(CTI_KEYS) | _values(), as_json=st.booleans(), raw=st.binary(max_size=40))
def test_authenticated_cti_bodies_never_5xx(app, data, as_json, raw):
    path = f"/cti/cti-main/{CTI_TOKEN}"
    assert _post(app, path, _as_body(data, as_json), {}) < 500
    assert _post(app, path, raw, {}) < 500


@FUZZ
@given(
    variables=_shaped(FS_VARIABLES) | _values(),
    top=_values(),
    encode=st.sampled_from(["json", "form", "base64"]),
    raw=st.binary(max_size=40),
)
def test_authenticated_freeswitch_bodies_never_5xx(app, variables, top, encode, raw):
    import base64
    from urllib.parse import quote

    text = json.dumps({"variables": variables, "callflow": top})
    body = {
        "json": text.encode(),
        "form": b"cdr=" + quote(text).encode(),
        "base64": b"cdr=" + base64.b64encode(text.encode()),
    }[encode]
    headers = {"Authorization": basic_auth()}
    assert _post(app, "/freeswitch/fs-seoul/cdr", body, headers) < 500
    assert _post(app, "/freeswitch/fs-seoul/cdr", b"cdr=" + raw, headers) < 500


@pytest.mark.parametrize("route", ["status", "recording"])
def test_signed_twilio_forms_never_5xx(app, route):
    path = f"/twilio/kr-main/voice/{route}"

    @FUZZ
    @given(
        st.lists(
            st.tuples(st.sampled_from(TWILIO_KEYS) | st.text(max_size=8), st.text(max_size=16)),
            max_size=10,
        )
    )
    def check(pairs: list[tuple[str, str]]) -> None:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, BASE_URL + path, pairs),
        }
        assert _post(app, path, urlencode(pairs).encode(), headers) < 500

    check()
