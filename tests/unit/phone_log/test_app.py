from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from libs.common.webhooks import twilio_signature
from libs.common.webhooks.metrics import WEBHOOK_SECONDS
from services.phone_log.bootstrap import create_app
from tests.helpers.phone_log import (
    ASTERISK_TOKEN,
    BASE_URL,
    CTI_TOKEN,
    TWILIO_TOKEN,
    basic_auth,
    running_app,
    signed_twilio,
    test_settings,
)
from tests.helpers.phone_log_samples import (
    CUSTOMER,
    asterisk_cdr,
    asterisk_form,
    cti_event,
    cti_form,
    freeswitch_body,
    freeswitch_cdr,
    twilio_recording,
    twilio_status,
)
from tests.unit.phone_log.helpers import DownProducer, RecordingProducer

STATUS = "/twilio/kr-main/voice/status"
RECORDING = "/twilio/kr-main/voice/recording"
ASTERISK = "/asterisk/pbx-seoul/cdr"
FREESWITCH = "/freeswitch/fs-seoul/cdr"
CTI = f"/cti/cti-main/{CTI_TOKEN}"


def test_published_twilio_vector_through_the_shared_verifier():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
        "Caller": "+14158675309",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


async def test_signed_twilio_callback_is_published_then_acknowledged():
    producer = RecordingProducer()
    async with running_app(producer) as client:
        response = await client.post(STATUS, **signed_twilio(STATUS, twilio_status("no-answer")))
    assert response.status_code == 200
    receipt = response.json()
    assert receipt["status"] == "accepted" and receipt["kind"] == "call_missed"
    [(topic, event, key)] = producer.sent
    assert topic == "support.interactions.v1"
    assert key == CUSTOMER and event.id == receipt["event_id"]
    assert event.source == "omnidesk/phone_log/twilio/kr-main"
    assert event.data.call.callback_requested
    assert event.data.routing_hints.language == "ko"


async def test_forged_twilio_signature_is_401():
    producer = RecordingProducer()
    request = signed_twilio(STATUS, twilio_status("completed"), token="not-the-token")
    async with running_app(producer) as client:
        forged = await client.post(STATUS, **request)
        unsigned = await client.post(
            STATUS,
            content=request["content"],
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert forged.status_code == unsigned.status_code == 401
    assert forged.json()["error"] == "bad_signature"
    assert producer.sent == []


async def test_tampered_twilio_field_is_401():
    fields = twilio_status("completed", CallDuration="10")
    request = signed_twilio(STATUS, fields)
    request["content"] = urlencode({**fields, "CallDuration": "9999"}).encode()
    async with running_app(RecordingProducer()) as client:
        response = await client.post(STATUS, **request)
    assert response.status_code == 401


async def test_twilio_signature_behind_a_proxy_uses_forwarded_headers():
    fields = twilio_status("ringing")
    public = "https://desk.example.kr" + STATUS
    headers = {
        "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, public, fields),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "desk.example.kr",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with running_app(RecordingProducer(), trust_forwarded_headers=True) as client:
        response = await client.post(STATUS, content=urlencode(fields).encode(), headers=headers)
    async with running_app(RecordingProducer()) as untrusting:
        refused = await untrusting.post(STATUS, content=urlencode(fields).encode(), headers=headers)
    assert response.status_code == 200
    assert refused.status_code == 401  # headers from an untrusted client are not believed


async def test_repeated_callback_is_acknowledged_without_a_second_publish():
    producer = RecordingProducer()
    request = signed_twilio(STATUS, twilio_status("completed", CallDuration="12"))
    async with running_app(producer) as client:
        first = await client.post(STATUS, **request)
        second = await client.post(STATUS, **request)
    assert first.json()["status"] == "accepted"
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    assert second.json()["event_id"] == first.json()["event_id"]
    assert len(producer.sent) == 1


async def test_recording_callbacks():
    producer = RecordingProducer()
    async with running_app(producer) as client:
        done = await client.post(RECORDING, **signed_twilio(RECORDING, twilio_recording()))
        busy = await client.post(
            RECORDING, **signed_twilio(RECORDING, twilio_recording(status="in-progress"))
        )
    assert done.json()["kind"] == "voicemail"
    assert busy.status_code == 200 and busy.json()["status"] == "ignored"
    assert len(producer.sent) == 1


async def test_kafka_down_is_503_with_retry_after():
    async with running_app(DownProducer()) as client:
        response = await client.post(STATUS, **signed_twilio(STATUS, twilio_status("ringing")))
        cti = await client.post(
            CTI,
            content=cti_form(cti_event("newCall")),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == cti.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "bus_unavailable"


@pytest.mark.parametrize("as_json", [False, True])
async def test_asterisk_cdr_as_form_or_json(as_json):
    producer = RecordingProducer()
    cdr = asterisk_cdr(disposition="NO ANSWER", answer="", billsec="0", dstchannel="")
    body = json.dumps(cdr).encode() if as_json else asterisk_form(cdr)
    content_type = "application/json" if as_json else "application/x-www-form-urlencoded"
    async with running_app(producer) as client:
        response = await client.post(
            ASTERISK,
            content=body,
            headers={"X-Omnidesk-Token": ASTERISK_TOKEN, "Content-Type": content_type},
        )
    assert response.status_code == 200, response.text
    [(_, event, key)] = producer.sent
    assert key == CUSTOMER and event.data.kind == "call_missed"
    assert event.data.routing_hints.queue == "support-ko"


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
async def test_asterisk_without_the_token_is_401(token):
    headers = {} if token is None else {"X-Omnidesk-Token": token}
    async with running_app(RecordingProducer()) as client:
        response = await client.post(
            ASTERISK, content=asterisk_form(asterisk_cdr()), headers=headers
        )
    assert response.status_code == 401


@pytest.mark.parametrize("encode", ["false", "true", "base64"])
async def test_freeswitch_every_encode_mode(encode):
    producer = RecordingProducer()
    body, content_type = freeswitch_body(freeswitch_cdr(), encode)
    async with running_app(producer) as client:
        response = await client.post(
            f"{FREESWITCH}?uuid=f3b2a1c0-5d4e-4f6a-8b7c-9d0e1f2a3b4c",
            content=body,
            headers={"Authorization": basic_auth(), "Content-Type": content_type},
        )
    assert response.status_code == 200, response.text
    assert producer.sent[0][1].data.call.answered_by == "1001"


@pytest.mark.parametrize("authorization", [None, "Basic Zm9vOmJhcg==", "Bearer x"])
async def test_freeswitch_bad_credentials_are_401_with_a_challenge(authorization):
    headers = {"Authorization": authorization} if authorization else {}
    body, content_type = freeswitch_body(freeswitch_cdr(), "false")
    async with running_app(RecordingProducer()) as client:
        response = await client.post(
            FREESWITCH, content=body, headers={**headers, "Content-Type": content_type}
        )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_cti_token_in_path():
    producer = RecordingProducer()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with running_app(producer) as client:
        ok = await client.post(CTI, content=cti_form(cti_event("newCall")), headers=form)
        bad = await client.post(
            "/cti/cti-main/guess", content=cti_form(cti_event("newCall")), headers=form
        )
    assert ok.status_code == 200 and ok.json()["kind"] == "call_started"
    assert bad.status_code == 401
    assert WEBHOOK_SECONDS.labels("cti")._sum.get() > 0  # latency observed per provider
    assert "guess" not in bad.text
    assert len(producer.sent) == 1


@pytest.mark.parametrize(
    "path", ["/twilio/nobody/voice/status", "/asterisk/kr-main/cdr", "/cti/nobody/x", "/nowhere"]
)
async def test_unknown_integration_is_404(path):
    async with running_app(RecordingProducer()) as client:
        response = await client.post(path, content=b"a=b")
    assert response.status_code == 404
    assert "error" in response.json()


async def test_oversize_body_is_413():
    async with running_app(RecordingProducer(), max_body_bytes=2048) as client:
        response = await client.post(CTI, content=b"x" * 4096)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body", [b"", b"event=dance&callId=1", b"{", b"[]", b"callId=1", b"\xff\xfe", b'{"event": 3}']
)
async def test_malformed_cti_bodies_are_400(body):
    async with running_app(RecordingProducer()) as client:
        response = await client.post(CTI, content=body)
    assert response.status_code == 400
    assert response.json()["error"] in {"malformed", "bad_encoding", "empty_body"}


async def test_signed_but_malformed_twilio_is_400():
    fields = {"CallSid": "CA1", "CallStatus": "exploded"}
    async with running_app(RecordingProducer()) as client:
        response = await client.post(STATUS, **signed_twilio(STATUS, fields))
    assert response.status_code == 400


async def test_health_endpoints():
    async with running_app(RecordingProducer()) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert "omnidesk_webhook" in (await client.get("/metrics")).text


def test_building_the_app_connects_to_nothing():
    # Port 1 has no broker: building must not try it.
    app = create_app(test_settings(kafka={"bootstrap_servers": "127.0.0.1:1"}))
    assert app.title == "omnidesk phone_log"


def test_openapi_documents_every_route_body_and_response():
    spec = create_app(test_settings()).openapi()
    webhooks = {p: ops["post"] for p, ops in spec["paths"].items() if "post" in ops}
    assert set(webhooks) == {
        "/twilio/{integration_id}/voice/status",
        "/twilio/{integration_id}/voice/recording",
        "/asterisk/{integration_id}/cdr",
        "/freeswitch/{integration_id}/cdr",
        "/cti/{integration_id}/{token}",
    }
    for path, op in webhooks.items():
        assert op["requestBody"]["content"], path
        assert {"200", "400", "401", "404", "413", "503"} <= set(op["responses"]), path
        assert "schema" in op["responses"]["200"]["content"]["application/json"], path
    assert set(webhooks["/freeswitch/{integration_id}/cdr"]["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "application/x-www-form-base64-encoded",
    }
    assert BASE_URL.startswith("https://")


async def test_authenticated_unreadable_body_is_kept_on_the_dead_letter_topic():
    producer = RecordingProducer()
    body = b'{"event": "dance", "callId": "c1"}'
    async with running_app(producer) as client:
        response = await client.post(
            CTI, content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    [(topic, value, key, headers)] = producer.raw
    assert topic == "support.deadletter.v1"
    assert value == body and key == "cti:cti-main"
    names = dict(headers)
    assert names["dlq_stage"] == b"phone_log.cti"
    assert names["dlq_source"] == b"phone_log:cti/cti-main"
    assert b"dance" in names["dlq_error"]
    assert names["content-type"] == b"application/json"
    assert producer.sent == []


async def test_unreadable_body_while_kafka_is_down_is_503_so_it_is_retried():
    async with running_app(DownProducer()) as client:
        response = await client.post(CTI, content=b"callId=1")
    assert response.status_code == 503


async def test_unauthenticated_garbage_is_not_kept():
    producer = RecordingProducer()
    async with running_app(producer) as client:
        response = await client.post("/cti/cti-main/wrong", content=b"\x00garbage")
    assert response.status_code == 401
    assert producer.raw == []


async def test_sipgate_style_newcall_reply_subscribes_to_answer_and_hangup():
    import httpx
    from pydantic import SecretStr

    from services.phone_log.integrations import CtiIntegration
    from services.phone_log.settings import PhoneLogSettings

    producer = RecordingProducer()
    settings = PhoneLogSettings(
        integrations=[
            CtiIntegration(id="sipgate", token=SecretStr("sg-token"), subscribe_in_reply=True)
        ],
        public_base_url="https://desk.example.kr",
        dev_samples=False,
    )
    app = create_app(settings, producer=producer)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        ring = await client.post(
            "/cti/sipgate/sg-token", content=cti_form(cti_event("newCall")), headers=form
        )
        answer = await client.post(
            "/cti/sipgate/sg-token", content=cti_form(cti_event("answer")), headers=form
        )
    assert ring.status_code == 200
    assert ring.headers["content-type"].startswith("application/xml")
    url = "https://desk.example.kr/cti/sipgate/sg-token"
    assert f'onAnswer="{url}"' in ring.text and f'onHangup="{url}"' in ring.text
    assert answer.json()["kind"] == "call_answered"
    assert len(producer.sent) == 2  # the XML reply came only after the ack


async def test_twilio_signature_over_the_url_with_an_explicit_port_is_accepted():
    fields = twilio_status("ringing")
    url_with_port = BASE_URL.replace("phone.example.com", "phone.example.com:443") + STATUS
    headers = {
        "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url_with_port, fields),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with running_app(RecordingProducer()) as client:
        response = await client.post(STATUS, content=urlencode(fields).encode(), headers=headers)
    assert response.status_code == 200


async def test_recording_callback_url_may_name_the_caller():
    producer = RecordingProducer()
    path = RECORDING + "?From=%2B821012345678&To=%2B82212345678"
    fields = twilio_recording()
    async with running_app(producer) as client:
        response = await client.post(path, **signed_twilio(path, fields))
        unsigned_hint = await client.post(
            RECORDING + "?From=%2B821099999999", **signed_twilio(RECORDING, fields)
        )
    assert response.status_code == 200
    assert producer.sent[0][1].data.customer_key == CUSTOMER
    assert unsigned_hint.status_code == 401  # the hint is part of what Twilio signed


async def test_cti_call_from_an_invalid_number_is_published_with_a_warning(caplog):
    producer = RecordingProducer()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    missed = cti_event("hangup", cause="noAnswer", **{"from": "not-a-number"})
    with caplog.at_level("WARNING", logger="services.phone_log"):
        async with running_app(producer) as client:
            response = await client.post(CTI, content=cti_form(missed), headers=form)
    assert response.status_code == 200 and len(producer.sent) == 1
    call = producer.sent[0][1].data.call
    assert call.number_invalid and not call.callback_requested
    assert "not a phone number" in caplog.text


async def test_nothing_configured_is_said_at_start_and_on_readyz(caplog):
    from services.phone_log.settings import PhoneLogSettings

    app = create_app(PhoneLogSettings(integrations=[]), producer=RecordingProducer())
    with caplog.at_level("WARNING", logger="services.phone_log"):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/readyz")
    assert "NO integrations configured" in caplog.text
    assert response.status_code == 503
    assert response.json()["checks"]["integrations"] == "failing: NoIntegrationsConfigured"


@pytest.mark.parametrize("each", [False, True])
async def test_accepted_calls_are_summarised_at_info_and_each_logged_when_asked(each, caplog):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with caplog.at_level("INFO", logger="services.phone_log"):
        async with running_app(RecordingProducer(), log_each_event=each) as client:
            call = cti_form(cti_event("newCall"))
            assert (await client.post(CTI, content=call, headers=form)).status_code == 200
    each_lines = [r for r in caplog.records if r.getMessage().startswith("call event ")]
    summaries = [r for r in caplog.records if r.getMessage().startswith("call events in")]
    assert len(each_lines) == (1 if each else 0)
    assert len(summaries) == 1 and "1 accepted" in summaries[0].getMessage()
