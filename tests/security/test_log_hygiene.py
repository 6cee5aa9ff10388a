"""Secrets and message bodies never reach the logs.

chat_ingest and phone_log run as real processes (``python -m services.…``) at
DEBUG, their stdout and stderr captured. Every integration's secret and every
message text carries a marker unique to this run; valid, forged, malformed
and misrouted requests are sent; then every captured line is scanned.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from libs.common.settings import KafkaSettings
from libs.common.webhooks.signatures import (
    twilio_signature,
)
from libs.providers.integrations import Provider
from services.chat_ingest.samples import (
    channeltalk_payload,
    kakao_payload,
    line_payload,
    slack_payload,
    telegram_payload,
    twilio_form,
    webchat_payload,
    whatsapp_payload,
)
from tests.helpers.chat_ingest import credentials
from tests.helpers.phone_log_samples import asterisk_cdr, asterisk_form, cti_event, cti_form
from tests.helpers.processes import running_module
from tools.testing.ready import wait_ready
from tools.testing.system import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUN = uuid.uuid4().hex[:12]
SECRET = f"SECRETMARK{RUN}"
BODY = f"BODYMARK{RUN}"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_INTERACTIONS": kafka.topics.interactions,
        "KAFKA_TOPIC_DEADLETTER": kafka.topics.deadletter,
    }


@contextlib.asynccontextmanager
async def service(
    module: str, env: dict[str, str], port: int, log: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The service as its own process, output to ``log``; stopped with SIGTERM."""
    async with running_module(module, {**os.environ, **env}, log, stop_within_s=30) as process:
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, process=process, name=module)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield client


def _secret(name: str) -> str:
    return f"{SECRET}-{name}"


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def chat_bodies() -> dict[Provider, bytes]:
    text = f"My card number is in here {BODY}"
    whatsapp = whatsapp_payload(1)
    whatsapp["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = text
    telegram = telegram_payload(1)
    telegram["message"]["text"] = text
    slack = slack_payload(1)
    slack["event"]["text"] = text
    line = line_payload(1)
    line["events"][0]["message"]["text"] = text
    channeltalk = channeltalk_payload(1)
    channeltalk["entity"]["plainText"] = text
    channeltalk["entity"]["blocks"] = [{"type": "text", "value": text}]
    kakao = kakao_payload(1)
    kakao["userRequest"]["utterance"] = text
    webchat = webchat_payload(1)
    webchat["text"] = text
    twilio = [(k, text if k == "Body" else v) for k, v in twilio_form(1)]
    return {
        Provider.TWILIO: urlencode(twilio).encode(),
        Provider.WHATSAPP: _json(whatsapp),
        Provider.TELEGRAM: _json(telegram),
        Provider.SLACK: _json(slack),
        Provider.LINE: _json(line),
        Provider.CHANNELTALK: _json(channeltalk),
        Provider.KAKAO: _json(kakao),
        Provider.WEBCHAT: _json(webchat),
    }


def scan(log: Path) -> Iterator[str]:
    for line in log.read_text(errors="replace").splitlines():
        if SECRET in line or BODY in line:
            yield line


async def test_chat_ingest_logs_no_secret_and_no_body(kafka_topics, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    integrations = [
        {"id": "sec", "provider": p.value, "secret": _secret(p.value), "routing": {"queue": "q"}}
        for p in Provider
    ]
    env = {
        **kafka_env(kafka_topics),
        "CHAT_INGEST_INTEGRATIONS": json.dumps(integrations),
        "CHAT_INGEST_HTTP_HOST": "127.0.0.1",
        "CHAT_INGEST_HTTP_PORT": str(port),
        "CHAT_INGEST_LOG_LEVEL": "DEBUG",
        "CHAT_INGEST_LOG_FORMAT": "json",
    }
    log = tmp_path / "chat_ingest.log"
    statuses: dict[str, int] = {}
    async with service("services.chat_ingest", env, port, log) as client:
        for provider, body in chat_bodies().items():
            secret = _secret(provider.value)
            path, headers = credentials(
                provider, body, secret=secret, integration_id="sec", base_url=base_url
            )
            ok = await client.post(path, content=body, headers=headers)
            statuses[f"{provider}-valid"] = ok.status_code
            # A body the signature covers but the parser cannot read (400, logged as a rejection).
            broken = body[:-3] + f"{BODY}".encode()
            path, headers = credentials(
                provider, broken, secret=secret, integration_id="sec", base_url=base_url
            )
            statuses[f"{provider}-malformed"] = (
                await client.post(path, content=broken, headers=headers)
            ).status_code
            # A wrong credential: rejected and logged, with the body unread.
            path, headers = credentials(
                provider, body, secret=secret + "x", integration_id="sec", base_url=base_url
            )
            statuses[f"{provider}-forged"] = (
                await client.post(path, content=body, headers=headers)
            ).status_code
    assert all(statuses[f"{p}-valid"] in (200, 202) for p in Provider), statuses
    assert all(statuses[f"{p}-forged"] == 401 for p in Provider), statuses
    lines = log.read_text(errors="replace").splitlines()
    assert len(lines) >= 8, "the service logged (almost) nothing: capture is broken"
    assert list(scan(log)) == []


async def test_phone_log_logs_no_secret_and_no_body(kafka_topics, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    integrations = [
        {"id": "sec", "provider": "twilio", "auth_token": _secret("twilio")},
        {"id": "sec", "provider": "asterisk", "token": _secret("asterisk")},
        {"id": "sec", "provider": "freeswitch", "username": "fs", "password": _secret("fs")},
        {"id": "sec", "provider": "cti", "token": _secret("cti")},
    ]
    env = {
        **kafka_env(kafka_topics),
        "PHONE_LOG_INTEGRATIONS": json.dumps(integrations),
        "PHONE_LOG_HTTP_HOST": "127.0.0.1",
        "PHONE_LOG_HTTP_PORT": str(port),
        "PHONE_LOG_DEV_SAMPLES": "false",
        "PHONE_LOG_PUBLIC_BASE_URL": base_url,
        "PHONE_LOG_LOG_LEVEL": "DEBUG",
        "PHONE_LOG_LOG_FORMAT": "json",
    }
    log = tmp_path / "phone_log.log"
    cti_path = f"/cti/sec/{_secret('cti')}"
    cti_body = cti_form(cti_event("newCall", call_id="sec-1", note=BODY))
    cdr = asterisk_form(asterisk_cdr(userfield=BODY, uniqueid="1795390000.9"))
    asterisk = {"Content-Type": FORM, "X-Omnidesk-Token": _secret("asterisk")}
    status_fields = {"CallSid": "CA" + "5" * 32, "CallStatus": "completed", "From": BODY}
    twilio_path = "/twilio/sec/voice/status"
    twilio = {
        "Content-Type": FORM,
        "X-Twilio-Signature": twilio_signature(
            _secret("twilio"), base_url + twilio_path, status_fields
        ),
    }
    statuses: dict[str, int] = {}
    async with service("services.phone_log", env, port, log) as client:
        calls = {
            "cti-valid": (cti_path, cti_body, {"Content-Type": FORM}),
            "cti-malformed": (cti_path, b'{"event": "' + BODY.encode(), {"Content-Type": JSON}),
            "cti-unknown-integration": (f"/cti/other/{_secret('cti')}", cti_body, {}),
            "asterisk-valid": ("/asterisk/sec/cdr", cdr, asterisk),
            "asterisk-malformed": ("/asterisk/sec/cdr", b"{" + BODY.encode(), asterisk),
            "asterisk-forged": (
                "/asterisk/sec/cdr",
                cdr,
                {**asterisk, "X-Omnidesk-Token": _secret("asterisk") + "x"},
            ),
            "twilio-unparseable-number": (twilio_path, urlencode(status_fields).encode(), twilio),
        }
        for name, (path, body, headers) in calls.items():
            statuses[name] = (await client.post(path, content=body, headers=headers)).status_code
    assert statuses["cti-valid"] == statuses["asterisk-valid"] == 200, statuses
    assert statuses["asterisk-forged"] == 401, statuses
    assert statuses["cti-malformed"] == statuses["asterisk-malformed"] == 400, statuses
    assert statuses["cti-unknown-integration"] == 404, statuses
    lines = log.read_text(errors="replace").splitlines()
    assert len(lines) >= 5, "the service logged (almost) nothing: capture is broken"
    assert list(scan(log)) == []
