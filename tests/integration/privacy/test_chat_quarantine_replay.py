"""``omnidesk chat quarantine list|show|replay`` as an operator runs it (a process,
environment only) against the real broker: a kept body that today's parser
reads is published once; replaying again publishes nothing; a body still
unreadable stays kept."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from libs.common.cloudevents import decode
from libs.common.kafka.producer import EventProducer
from libs.common.kafka.reading import read_all
from libs.common.webhooks import Quarantine
from services.chat_ingest.samples import telegram_payload
from tests.integration.privacy.helpers import cli_env, omnidesk, write_artifact

pytestmark = pytest.mark.integration


async def test_replay_after_a_fix_publishes_once_and_again_nothing(kafka_topics, tmp_path):
    body = json.dumps(telegram_payload(4242)).encode()
    async with EventProducer(kafka_topics, client_id="test-chat-ingest") as producer:
        keeper = Quarantine(producer, topic=kafka_topics.topics.deadletter, service="chat_ingest")
        # As an older parser would have: the signature was fine, the body "unreadable".
        await keeper.keep(
            body,
            provider="telegram",
            integration_id="dev",
            error="malformed: message.date: unsupported format",
            content_type="application/json",
        )
        await keeper.keep(
            b'{"update_id": "not a number"',
            provider="telegram",
            integration_id="dev",
            error="malformed: invalid JSON",
            content_type="application/json",
        )
    env = cli_env(
        kafka_topics,
        state_dir=tmp_path / "email",
        CHAT_INGEST_STATE_DIR=str(tmp_path / "chat"),
        CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY="true",
        CHAT_INGEST_INTEGRATIONS="[]",
    )
    listed = await omnidesk("chat", "quarantine", "list", env=env)
    print(listed.output)
    assert listed.code == 0, listed.output
    ids = [line.split()[0] for line in listed.output.splitlines() if "telegram/dev" in line]
    assert len(ids) == 2
    good, bad = ids

    shown = await omnidesk("chat", "quarantine", "show", good, env=env)
    assert shown.code == 0 and '"update_id": ' in shown.output

    first = await omnidesk("chat", "quarantine", "replay", good, env=env)
    print(first.output)
    assert first.code == 0 and "published 1 event(s)" in first.output, first.output
    again = await omnidesk("chat", "quarantine", "replay", good, env=env)
    print(again.output)
    assert again.code == 0 and "nothing published" in again.output
    still = await omnidesk("chat", "quarantine", "replay", bad, env=env)
    print(still.output)
    assert still.code == 1 and "still unreadable" in still.output

    records = await read_all(kafka_topics, kafka_topics.topics.interactions)
    events = [decode(r.headers, r.value) for r in records]
    assert len(events) == 1
    assert events[0].id == first.output.split()[-1]
    assert events[0].data.provider == "telegram"
    write_artifact(
        "replay-chat.md",
        "Chat quarantine replay (telegram body kept by an older parser)",
        [
            ("omnidesk chat quarantine list", listed.output),
            (f"replay {good}", first.output),
            (f"replay {good} again", again.output),
            (f"replay {bad} (still unreadable)", still.output),
            ("interactions on the topic after all replays", f"{len(events)}: {events[0].id}"),
        ],
    )


async def test_phone_replay_publishes_once_and_again_nothing(kafka_topics, tmp_path):
    status = urlencode(
        {
            "AccountSid": "AC0123456789abcdef0123456789abcdef",
            "CallSid": "CA0000000000000000000000000000beef",
            "CallStatus": "no-answer",
            "Direction": "inbound",
            "From": "+821055512345",
            "To": "+82212345678",
            "Timestamp": "Mon, 23 Nov 2026 01:00:00 +0000",
        }
    ).encode()
    async with EventProducer(kafka_topics, client_id="test-phone-log") as producer:
        keeper = Quarantine(producer, topic=kafka_topics.topics.deadletter, service="phone_log")
        await keeper.keep(
            status,
            provider="twilio",
            integration_id="dev-twilio",
            error="malformed: CallStatus: unknown value",  # as an older parser said
            content_type="application/x-www-form-urlencoded",
        )
    env = cli_env(
        kafka_topics,
        state_dir=tmp_path / "email",
        PHONE_LOG_STATE_DIR=str(tmp_path / "phone"),
        PHONE_LOG_DEV_SAMPLES="true",
    )
    listed = await omnidesk("phone", "quarantine", "list", env=env)
    assert listed.code == 0, listed.output
    [letter] = [
        line.split()[0] for line in listed.output.splitlines() if "twilio/dev-twilio" in line
    ]
    first = await omnidesk("phone", "quarantine", "replay", letter, env=env)
    print(first.output)
    assert first.code == 0 and "published 1 event(s)" in first.output, first.output
    again = await omnidesk("phone", "quarantine", "replay", letter, env=env)
    assert again.code == 0 and "nothing published" in again.output
    records = await read_all(kafka_topics, kafka_topics.topics.interactions)
    [event] = [decode(r.headers, r.value) for r in records]
    assert event.data.call.call_id == "CA0000000000000000000000000000beef"
    write_artifact(
        "replay-phone.md",
        "Phone quarantine replay (Twilio status kept by an older parser)",
        [
            (f"replay {letter}", first.output),
            (f"replay {letter} again", again.output),
            ("interactions on the topic after both replays", f"1: {event.id}"),
        ],
    )
