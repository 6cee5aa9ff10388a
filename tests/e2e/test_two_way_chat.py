"""Customers answered on their own chat channel, end to end on the real broker.

signed webhook → chat_ingest → Kafka → router (assigned) → acknowledgement on the
channel → POST /replies → notifier → the strict provider fixture receives exactly
one correct request → outcome → router: reply accepted, first-response clock
stopped at the provider's accept time → (WhatsApp) "delivered" status webhook →
the timeline shows delivered → resolve → survey as buttons → the customer's tap
is recorded as CSAT.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from libs.common.webhooks.signatures import hmac_sha256_hex
from libs.providers.integrations import Provider
from services.chat_ingest.samples import sample_request
from tests.e2e.two_way import TwoWaySystem, eventually, two_way_system

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

TG_USER = 700_123_456
WA_ID = "821055501234"


def telegram_update(update_id: int, **content: object) -> dict[str, object]:
    return {"update_id": update_id, **content}


def telegram_message(update_id: int, text: str) -> dict[str, object]:
    sender = {"id": TG_USER, "is_bot": False, "first_name": "Ji-woo", "language_code": "ko"}
    return telegram_update(
        update_id,
        message={
            "message_id": update_id,
            "from": sender,
            "chat": {"id": TG_USER, "first_name": "Ji-woo", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    )


async def post_telegram(system: TwoWaySystem, update: dict[str, object]) -> None:
    secret = system.fakes.integration(Provider.TELEGRAM, id="tg").secret_value()
    answer = await system.ingest.post(
        "/webhooks/telegram/tg",
        content=json.dumps(update).encode(),
        headers={"content-type": "application/json", "x-telegram-bot-api-secret-token": secret},
    )
    assert answer.status_code == 200, answer.text


def requests_to(fake) -> list[dict]:
    return [r.body for r in fake.accepted]


async def test_telegram_reply_ack_and_survey_end_to_end(kafka_topics, tmp_path, smtp_inbox):
    _, smtp_port = smtp_inbox
    async with two_way_system(
        kafka_topics,
        tmp_path,
        smtp_port,
        lambda fakes, _url: [fakes.integration(Provider.TELEGRAM, id="tg")],
    ) as system:
        telegram = system.fakes.telegram
        await post_telegram(system, telegram_message(5001, "입금이 아직 안 들어왔어요"))
        conversation = await system.conversation_for("telegram")
        assert conversation["first_response_at"] is None

        [ack] = await eventually(lambda: _some(requests_to(telegram)), "the acknowledgement")
        assert ack["chat_id"] == str(TG_USER) and conversation["reference"] in ack["text"]
        assert "5분 이내" in ack["text"]  # the chat policy's promise, in Korean

        queued = await system.reply(conversation["id"], "확인해 보니 입금이 완료되었습니다.")
        reply = await system.reply_state(conversation["id"], queued["reply_id"], "accepted")
        sent = requests_to(telegram)
        assert len(sent) == 2 and sent[1] == {
            "chat_id": str(TG_USER),
            "text": "확인해 보니 입금이 완료되었습니다.",
        }
        assert reply["provider_message_id"] == f"{TG_USER}:2"
        detail = await system.detail(conversation["id"])
        assert detail["first_response_at"] == reply["accepted_at"]
        assert _at(reply["accepted_at"]) >= _at(reply["created_at"])
        assert detail["status"] == "waiting_on_customer"
        timeline = [e for e in detail["timeline"] if e["kind"] == "reply"]
        assert timeline[0]["type"] == "reply.accepted"
        assert _at(timeline[0]["detail"]["accepted_at"]) == _at(reply["accepted_at"])

        resolved = await system.api.post(
            f"/conversations/{conversation['id']}/resolve", headers=system.admin
        )
        assert resolved.status_code == 200
        survey = await eventually(
            lambda: _some(requests_to(telegram)[2:]), "the CSAT survey with buttons"
        )
        keyboard = survey[0]["reply_markup"]["inline_keyboard"]
        payloads = [button["callback_data"] for row in keyboard for button in row]
        assert payloads == [f"csat:{n}" for n in range(1, 6)]

        tap = telegram_update(
            5002,
            callback_query={
                "id": "cbq-1",
                "from": {"id": TG_USER, "is_bot": False, "first_name": "Ji-woo"},
                "message": {
                    "message_id": 3,
                    "chat": {"id": TG_USER, "type": "private"},
                    "date": int(time.time()),
                },
                "chat_instance": "ci-1",
                "data": "csat:5",
            },
        )
        await post_telegram(system, tap)

        async def rated() -> dict | None:
            metrics = await system.api.get(
                "/reports/metrics", params={"group_by": "all"}, headers=system.admin
            )
            rows = metrics.json()["rows"]
            return rows[0] if rows and rows[0]["csat_responses"] == 1 else None

        row = await eventually(rated, "the CSAT answer")
        assert row["csat_average"] == 5.0
        still = await system.detail(conversation["id"])
        assert still["status"] == "resolved"  # the tap did not reopen it
        assert len(requests_to(telegram)) == 3  # exactly one request per message
        assert telegram.refused == []


async def test_whatsapp_delivered_status_and_a_permanent_refusal(
    kafka_topics, tmp_path, smtp_inbox
):
    inbox, smtp_port = smtp_inbox
    async with two_way_system(
        kafka_topics,
        tmp_path,
        smtp_port,
        lambda fakes, _url: [fakes.integration(Provider.WHATSAPP, id="wa")],
    ) as system:
        whatsapp = system.fakes.whatsapp
        whatsapp.customer_wrote(WA_ID)
        body, headers = _whatsapp_message(system, "주문한 상품 배송 문의드립니다")
        answer = await system.ingest.post("/webhooks/whatsapp/wa", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        conversation = await system.conversation_for("whatsapp")
        await eventually(lambda: _some(requests_to(whatsapp)), "the acknowledgement")

        queued = await system.reply(conversation["id"], "처리되었습니다.")
        reply = await system.reply_state(conversation["id"], queued["reply_id"], "accepted")
        wamid = reply["provider_message_id"]
        assert wamid.startswith("wamid.") and requests_to(whatsapp)[1]["to"] == WA_ID
        body, headers = whatsapp.status_webhook([whatsapp.status(wamid, "delivered", WA_ID)])
        delivered = await system.ingest.post("/webhooks/whatsapp/wa", content=body, headers=headers)
        assert delivered.status_code == 200
        reply = await system.reply_state(conversation["id"], queued["reply_id"], "delivered")
        detail = await system.detail(conversation["id"])
        assert detail["first_response_at"] == reply["accepted_at"]  # not the delivery time
        assert reply["delivered_at"] is not None
        assert [e["type"] for e in detail["timeline"] if e["kind"] == "reply"] == [
            "reply.delivered"
        ]

        whatsapp.fail_next(1, "permanent")
        refused = await system.reply(conversation["id"], "두 번째 답변")
        failed = await system.reply_state(conversation["id"], refused["reply_id"], "failed")
        assert failed["error_code"] and failed["failed_at"] is not None

        async def agent_mail() -> list | None:
            return [
                mail
                for rcpts, mail in inbox.messages
                if "lee@desk.example" in rcpts
                and "전달되지 않았습니다" in str(mail["Subject"])  # agent-lee reads Korean
                and conversation["reference"] in str(mail["Subject"])
            ] or None

        [mail] = await eventually(agent_mail, "the agent's failed-reply notice")
        assert "처리되었습니다" not in mail.get_body(("plain",)).get_content()
        assert "두 번째 답변" in mail.get_body(("plain",)).get_content()


async def test_web_chat_visitor_reads_ack_reply_and_survey_from_the_outbox(
    kafka_topics, tmp_path, smtp_inbox
):
    _, smtp_port = smtp_inbox
    async with two_way_system(
        kafka_topics,
        tmp_path,
        smtp_port,
        lambda fakes, _url: [fakes.integration(Provider.WEBCHAT, id="web")],
    ) as system:
        site = system.fakes.integration(Provider.WEBCHAT, id="web")
        request = sample_request(
            Provider.WEBCHAT,
            integration_id="web",
            secret=site.secret_value(),
            seq=3,
            base_url=system.ingest_url,
        )
        answer = await system.ingest.post(
            request.path, content=request.content, headers=request.headers
        )
        assert answer.status_code < 300, answer.text
        token = answer.json()["visitor_token"]  # what the widget keeps
        conversation = await system.conversation_for("webchat")
        queued = await system.reply(conversation["id"], "Your login works again.")
        reply = await system.reply_state(conversation["id"], queued["reply_id"], "accepted")
        assert reply["provider_message_id"].startswith("webchat-")
        await system.api.post(f"/conversations/{conversation['id']}/resolve", headers=system.admin)

        async with httpx.AsyncClient(base_url=system.webchat_url) as widget:

            async def three() -> list | None:
                page = await widget.get(
                    "/webchat/web/messages", headers={"Authorization": f"Bearer {token}"}
                )
                items = page.json()["messages"] if page.status_code == 200 else []
                return items if len(items) >= 3 else None

            ack, sent, survey = await eventually(three, "ack, reply and survey in the outbox")
            assert conversation["reference"] in ack["text"] and ack["purpose"] == "acknowledgement"
            assert sent["text"] == "Your login works again."
            assert [q["payload"] for q in survey["quick_replies"]] == [
                f"csat:{n}" for n in range(1, 6)
            ]
            refused = await widget.get(
                "/webchat/web/messages", headers={"Authorization": "Bearer v1.forged.token"}
            )
            assert refused.status_code == 401


def _whatsapp_message(system: TwoWaySystem, text: str) -> tuple[bytes, dict[str, str]]:
    fake = system.fakes.whatsapp
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550000000",
                                "phone_number_id": fake.phone_number_id,
                            },
                            "contacts": [{"profile": {"name": "Kim Min-jun"}, "wa_id": WA_ID}],
                            "messages": [
                                {
                                    "from": WA_ID,
                                    "id": "wamid.INBOUND0001",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac_sha256_hex(fake.app_secret, body)
    return body, {"content-type": "application/json", "x-hub-signature-256": signature}


async def _some(items: list) -> list | None:
    return items or None


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)
