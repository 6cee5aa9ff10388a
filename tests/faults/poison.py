"""Poison inputs: what a broken provider, a broken producer or a broken mail sends.

Each is sent once, beside the steady load; :class:`PoisonReport` says what
came back and where each ended up.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
from aiokafka import AIOKafkaProducer

from libs.common.settings import KafkaSettings
from libs.common.webhooks.signatures import hmac_sha256_hex, twilio_signature
from tests.faults.invariants import phantom_interactions
from tests.faults.load import (
    CHAT_INTEGRATION,
    CHAT_SECRET,
    TWILIO_INTEGRATION,
    TWILIO_TOKEN,
    Endpoints,
    Input,
    append_mail,
)
from tests.faults.observe import TopicTail


@dataclass
class PoisonReport:
    marker: str
    webhook_statuses: dict[str, int] = field(default_factory=dict)
    kafka_records: dict[str, bytes] = field(default_factory=dict)
    mail: bytes = b""


def _webhooks(ep: Endpoints, marker: str) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    bad_json = f'{{"update_id": 1, "message": {{"text": "{marker}"'.encode()
    not_json = f"not json at all {marker}".encode()
    twilio_url = f"{ep.phone_url}/twilio/{TWILIO_INTEGRATION}/voice/status"
    no_call_sid = {"AccountSid": "AC" + "f" * 32, "CallStatus": "completed", "From": marker}
    wrong_shape = json.dumps({"object": "whatsapp_business_account", "entry": marker}).encode()
    return {
        "telegram, truncated JSON": (
            f"{ep.chat_url}/webhooks/telegram/{CHAT_INTEGRATION}",
            bad_json,
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": CHAT_SECRET},
        ),
        "whatsapp, signed non-JSON": (
            f"{ep.chat_url}/webhooks/whatsapp/{CHAT_INTEGRATION}",
            not_json,
            {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(CHAT_SECRET, not_json),
            },
        ),
        "whatsapp, signed wrong shape": (
            f"{ep.chat_url}/webhooks/whatsapp/{CHAT_INTEGRATION}",
            wrong_shape,
            {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(CHAT_SECRET, wrong_shape),
            },
        ),
        "twilio, signed without CallSid": (
            twilio_url,
            urlencode(no_call_sid).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, twilio_url, no_call_sid),
            },
        ),
    }


def kafka_poison(marker: str) -> dict[str, tuple[bytes, list[tuple[str, bytes]]]]:
    """Records straight onto the interactions topic, past every ingest check."""
    event_headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(uuid.uuid4()).encode()),
        ("ce_source", b"faults/poison"),
        ("ce_type", b"support.message.received"),
        ("content-type", b"application/json"),
    ]
    return {
        "garbage bytes, no headers": (f"\x00\xff garbage {marker}".encode(), []),
        "CloudEvent with an invalid body": (
            json.dumps({"channel": "fax", "marker": marker}).encode(),
            event_headers,
        ),
    }


def mail_without_sender(marker: str) -> bytes:
    """No From, Sender or Reply-To: email_ingest must quarantine it, not drop it."""
    return (
        f"Subject: poison {marker}\r\nMessage-ID: <{marker}@poison.example>\r\n"
        f"Date: Mon, 23 Nov 2026 06:00:00 +0000\r\n\r\nnobody sent this {marker}\r\n"
    ).encode()


async def send_poison(ep: Endpoints, kafka: KafkaSettings) -> PoisonReport:
    marker = f"poison-{int(time.time() * 1000)}"
    report = PoisonReport(marker)
    async with httpx.AsyncClient(timeout=10) as http:
        for name, (url, body, headers) in _webhooks(ep, marker).items():
            response = await http.post(url, content=body, headers=headers)
            report.webhook_statuses[name] = response.status_code
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for name, (value, headers) in kafka_poison(marker).items():
            await producer.send_and_wait(
                kafka.topics.interactions, value, key=b"poison", headers=headers
            )
            report.kafka_records[name] = value
    finally:
        await producer.stop()
    report.mail = mail_without_sender(marker)
    verdict = await append_mail(ep, report.mail)
    if verdict is not None:
        raise RuntimeError(f"APPEND of the poison mail failed: {verdict}")
    return report


def poison_problems(report: PoisonReport, tail: TopicTail, inputs: list[Input]) -> list[str]:
    """What went wrong with the poison, if anything (empty: all handled)."""
    problems = [
        f"{name}: HTTP {status}, expected 4xx"
        for name, status in report.webhook_statuses.items()
        if not 400 <= status < 500
    ]
    dead = [d.value or b"" for d in tail.deadletters]
    for name, value in report.kafka_records.items():
        if value not in dead:
            problems.append(f"{name}: not dead-lettered")
    if not _mail_dead_lettered(report, dead):
        problems.append("mail without sender: not dead-lettered/quarantined")
    phantoms = phantom_interactions(inputs, tail.seen)
    if phantoms:
        problems.append(f"interaction events no input explains: {phantoms[:5]}")
    return problems


def dead_lettered(report: PoisonReport, tail: TopicTail) -> bool:
    dead = [d.value or b"" for d in tail.deadletters]
    records = all(value in dead for value in report.kafka_records.values())
    return records and _mail_dead_lettered(report, dead)


def _mail_dead_lettered(report: PoisonReport, dead: list[bytes]) -> bool:
    ours = set(report.kafka_records.values())
    return any(report.marker.encode() in value and value not in ours for value in dead)
