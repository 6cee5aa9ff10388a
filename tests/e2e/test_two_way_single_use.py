"""Single-use reply paths end to end on the real broker: Kakao's callback, LINE's token.

chat_ingest → router → notifier → the strict provider fixture, as in
``test_two_way_providers.py``. Kakao: the skill's callbackUrl answers the
agent's reply exactly once; a second reply is refused at ``POST /replies``
(409 ``callback_used``) and no request reaches the fixture. LINE: a reply
uses the customer's fresh reply token, the next one is pushed directly — no
"Invalid reply token" round trip.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from libs.common.events.interaction import ReplyPath
from libs.common.webhooks.signatures import hmac_sha256_base64
from libs.providers.integrations import Provider, webhook_path
from services.chat_ingest.samples import kakao_payload, line_payload
from tests.e2e.two_way import TwoWaySystem, eventually, two_way_system

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

ACCEPTED = ("accepted", "sent", "delivered", "read")
LINE_USER = "U" + "7" * 32


def only(provider: Provider):
    def build(fakes, ingest_url: str):
        return [fakes.integration(provider, id="it")]

    return build


async def stored_path(system: TwoWaySystem, conversation_id: str) -> ReplyPath:
    """The reply path the router keeps (the API does not show it: it holds secrets)."""
    assert system.runtime.ctx is not None
    async with system.runtime.ctx.uow.reader() as uow:
        conversation = await uow.conversations.get(conversation_id)
        return ReplyPath.model_validate(conversation.reply_path)


async def kakao_skill_request(system: TwoWaySystem, seq: int) -> str:
    """The Open Builder platform calls the skill with a fresh callbackUrl; returns the URL."""
    callback_url, _ = system.fakes.kakao.issue_callback()
    payload = kakao_payload(seq)
    payload["userRequest"]["callbackUrl"] = callback_url
    secret = system.fakes.integration(Provider.KAKAO, id="it").secret_value()
    answer = await system.ingest.post(
        webhook_path(Provider.KAKAO, "it"),
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "X-Omnidesk-Token": secret},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["useCallback"] is True  # the waiting text is the acknowledgement
    return callback_url


async def test_kakao_callback_answers_once_then_the_api_refuses(kafka_topics, tmp_path, smtp_inbox):
    _, smtp_port = smtp_inbox
    async with two_way_system(kafka_topics, tmp_path, smtp_port, only(Provider.KAKAO)) as system:
        fake = system.fakes.kakao
        callback_url = await kakao_skill_request(system, 7)
        conversation = await system.conversation_for("kakao")
        assert fake.accepted == []  # no acknowledgement spent the callback

        text = "출금 지연 건 확인했습니다. 10분 안에 처리됩니다."
        queued = await system.reply(conversation["id"], text)
        reply = await system.reply_state(conversation["id"], queued["reply_id"], *ACCEPTED)
        [request] = fake.accepted
        assert callback_url.endswith(request.path)
        assert request.body == {
            "version": "2.0",
            "template": {"outputs": [{"simpleText": {"text": text}}]},
        }
        assert reply["provider_message_id"]
        detail = await system.detail(conversation["id"])
        assert detail["first_response_at"] == reply["accepted_at"]

        second = await system.api.post(
            f"/conversations/{conversation['id']}/replies",
            json={"text": "추가 안내드립니다.", "agent_id": "agent-lee"},
            headers=system.admin,
        )
        assert second.status_code == 409, second.text
        assert second.json()["code"] == "callback_used"
        assert "cannot reply on this channel" in second.json()["detail"]
        await asyncio.sleep(1.0)  # time for a stray request to reach the fixture
        assert len(fake.accepted) == 1 and fake.refused == []
        replies = await system.api.get(
            f"/conversations/{conversation['id']}/replies", headers=system.admin
        )
        assert [r["id"] for r in replies.json()] == [queued["reply_id"]]

        # the customer writes again: a fresh callback, and the agent can answer once more
        await kakao_skill_request(system, 7_000_007)  # same user (seq % 100000), new text

        async def fresh() -> ReplyPath | None:
            path = await stored_path(system, conversation["id"])
            return path if path.callback_url and path.callback_url != callback_url else None

        await eventually(fresh, "the new callback on the conversation")
        again = await system.reply(conversation["id"], "다시 확인했습니다.")
        await system.reply_state(conversation["id"], again["reply_id"], *ACCEPTED)
        assert len(fake.accepted) == 2 and fake.refused == []
        print("SINGLE-USE", json.dumps({"provider": "kakao", "second reply": 409}))


def line_message(system: TwoWaySystem, seq: int) -> tuple[bytes, dict[str, str], str]:
    """A LINE message event from LINE_USER carrying a reply token the fixture issued."""
    token = system.fakes.line.issue_reply_token()
    payload = line_payload(seq)
    event: dict[str, Any] = payload["events"][0]
    event["replyToken"] = token
    event["timestamp"] = int(time.time() * 1000)
    event["source"]["userId"] = LINE_USER
    body = json.dumps(payload).encode()
    secret = system.fakes.integration(Provider.LINE, id="it").secret_value()
    headers = {
        "Content-Type": "application/json",
        "X-Line-Signature": hmac_sha256_base64(secret, body),
    }
    return body, headers, token


async def test_line_reply_token_then_push_without_a_failed_request(
    kafka_topics, tmp_path, smtp_inbox
):
    _, smtp_port = smtp_inbox
    async with two_way_system(kafka_topics, tmp_path, smtp_port, only(Provider.LINE)) as system:
        fake = system.fakes.line
        body, headers, first_token = line_message(system, 11)
        answer = await system.ingest.post(
            webhook_path(Provider.LINE, "it"), content=body, headers=headers
        )
        assert answer.status_code < 300, answer.text
        conversation = await system.conversation_for("line")

        async def token_spent() -> bool:
            path = await stored_path(system, conversation["id"])
            return fake.accepted != [] and path.reply_token is None

        await eventually(token_spent, "the acknowledgement spent the first reply token")
        [ack] = fake.accepted
        assert ack.path == "/v2/bot/message/reply" and ack.body["replyToken"] == first_token

        # the customer writes again: a fresh token the agent's reply uses
        body, headers, second_token = line_message(system, 12)
        answer = await system.ingest.post(
            webhook_path(Provider.LINE, "it"), content=body, headers=headers
        )
        assert answer.status_code < 300, answer.text

        async def fresh() -> bool:
            return (await stored_path(system, conversation["id"])).reply_token == second_token

        await eventually(fresh, "the second reply token on the conversation")
        first = await system.reply(conversation["id"], "확인했습니다.")
        await system.reply_state(conversation["id"], first["reply_id"], *ACCEPTED)
        second = await system.reply(conversation["id"], "처리가 끝났습니다.")
        await system.reply_state(conversation["id"], second["reply_id"], *ACCEPTED)

        paths = [r.path for r in fake.accepted]
        assert paths == ["/v2/bot/message/reply", "/v2/bot/message/reply", "/v2/bot/message/push"]
        assert fake.accepted[1].body["replyToken"] == second_token
        assert fake.accepted[2].body["to"] == LINE_USER
        assert fake.refused == []  # no "Invalid reply token" round trip
        print("SINGLE-USE", json.dumps({"provider": "line", "requests": paths}))
