"""Pure normalisers: realistic provider payloads → Interaction fields and event ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.cloudevents import CloudEvent, encode
from libs.common.events import Direction, InteractionKind, RoutingHints
from libs.common.ids import deterministic_id
from libs.common.webhooks import MalformedPayload
from libs.providers.channeltalk import inbound as channeltalk
from libs.providers.inbound import IngestContext, from_epoch, to_e164
from libs.providers.kakao import inbound as kakao
from libs.providers.line import inbound as line
from libs.providers.slack import inbound as slack
from libs.providers.telegram import inbound as telegram
from libs.providers.twilio import inbound as twilio
from libs.providers.webchat import inbound as webchat
from libs.providers.whatsapp import inbound as whatsapp
from services.chat_ingest import samples

RECEIVED = datetime(2026, 1, 5, 0, 0, 0, tzinfo=UTC)
CONTEXT = IngestContext(
    integration_id="main",
    received_at=RECEIVED,
    region="KR",
    routing=RoutingHints(queue="kr-support", language="ko", brand="acme"),
    agent_ids=frozenset({"U_AGENT", "777"}),
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("010-1234-5678", "KR", "+821012345678"),
        ("+82 10 1234 5678", "US", "+821012345678"),
        ("whatsapp:+14155550100", "KR", "+14155550100"),
        ("tel:+442071838750", "KR", "+442071838750"),
        ("02-312-3456", "KR", "+8223123456"),
        ("not a number", "KR", None),
        ("", "KR", None),
        (None, "KR", None),
    ],
)
def test_phone_numbers_become_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


def test_wa_id_is_international_without_plus():
    assert to_e164("821012345678", "US", international=True) == "+821012345678"


@pytest.mark.parametrize(
    ("value", "millis", "expected"),
    [
        ("1750000000", False, datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)),
        ("1750000000.000200", False, datetime(2025, 6, 15, 15, 6, 40, 200, tzinfo=UTC)),
        (1750000000000, True, datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)),
        ("1e300", False, None),
        ("abc", False, None),
        (-5, False, None),
        (None, False, None),
    ],
)
def test_provider_epochs(value, millis, expected):
    assert from_epoch(value, millis=millis) == expected


def test_twilio_whatsapp_message():
    pairs = samples.twilio_form(5, whatsapp=True)
    fields = twilio.form_fields(pairs)
    event = twilio.normalise(twilio.TwilioMessageForm.model_validate(fields), fields, CONTEXT)
    data = event.interaction
    assert event.id == deterministic_id("twilio", "main", fields["MessageSid"])
    assert data.customer.phone == "+821005550005"
    assert data.customer_key == "+821005550005"
    assert data.customer.display_name == "김민준"
    assert data.body.text.startswith("주문 5 배송이")
    assert data.direction is Direction.INBOUND
    assert data.kind is InteractionKind.MESSAGE
    assert data.occurred_at == RECEIVED  # Twilio sends no timestamp
    assert data.attachments[0].content_type == "image/jpeg"
    assert data.attachments[0].url.startswith("https://api.twilio.com/")
    assert data.thread.provider_thread_id == "whatsapp:+8215880000|whatsapp:+821005550005"
    assert data.routing_hints.queue == "kr-support"
    assert data.provider_message_id == fields["MessageSid"]


def test_twilio_status_callback_is_outbound_delivery_status():
    fields = {
        "MessageSid": "SM" + "a" * 32,
        "MessageStatus": "delivered",
        "From": "+8215880000",
        "To": "+821012345678",
    }
    form = twilio.TwilioMessageForm.model_validate(fields)
    event = twilio.normalise(form, fields, CONTEXT)
    assert event.interaction.kind is InteractionKind.DELIVERY_STATUS
    assert event.interaction.direction is Direction.OUTBOUND
    assert event.interaction.customer.phone == "+821012345678"
    assert event.id == deterministic_id("twilio", "main", "SM" + "a" * 32, "delivered")


def test_whatsapp_text_message_with_profile_name():
    payload = whatsapp.WhatsAppWebhook.model_validate(samples.whatsapp_payload(3))
    events, ignored = whatsapp.normalise(payload, CONTEXT)
    assert ignored == 0
    [event] = events
    data = event.interaction
    message_id = samples.whatsapp_payload(3)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert event.id == deterministic_id("whatsapp", "main", message_id)
    assert data.customer.phone == "+821005550003"
    assert data.customer.display_name == "Sheena Nelson"
    assert data.body.text == "Does it come in another colour? #3"
    assert data.occurred_at == datetime.fromtimestamp(1_750_000_003, UTC)
    assert data.thread.provider_thread_id == "106540352242922|821005550003"


def test_whatsapp_image_and_statuses():
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "contacts": [{"wa_id": "14155550100", "profile": {"name": "Ann"}}],
        "messages": [
            {
                "from": "14155550100",
                "id": "wamid.IMG1",
                "timestamp": "1750000000",
                "type": "image",
                "image": {
                    "caption": "broken box",
                    "mime_type": "image/jpeg",
                    "sha256": "a" * 64,
                    "id": "1234567890",
                },
            }
        ],
        "statuses": [
            {
                "id": "wamid.OUT1",
                "status": "read",
                "timestamp": "1750000001",
                "recipient_id": "14155550100",
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    events, _ = whatsapp.normalise(whatsapp.WhatsAppWebhook.model_validate(body), CONTEXT)
    message, status = events
    assert message.interaction.body.text == "broken box"
    assert message.interaction.attachments[0].url == "whatsapp-media:1234567890"
    assert message.interaction.attachments[0].sha256 == "a" * 64
    assert status.interaction.kind is InteractionKind.DELIVERY_STATUS
    assert status.interaction.direction is Direction.OUTBOUND
    assert status.id == deterministic_id("whatsapp", "main", "wamid.OUT1", "read")


def test_telegram_private_message():
    update = telegram.TelegramUpdate.model_validate(samples.telegram_payload(4))
    event = telegram.normalise(update, CONTEXT)
    assert event is not None
    data = event.interaction
    assert event.id == deterministic_id("telegram", "main", 900_000_004)
    assert data.customer.handle == "telegram:100000004"
    assert data.customer.display_name == "Ji-woo Park"
    assert data.customer.locale == "ko"
    assert data.body.text == "환불 요청합니다 (주문 4)"
    assert data.thread.provider_thread_id == "100000004"


def test_telegram_photo_caption_and_agent_in_group():
    payload = {
        "update_id": 1,
        "message": {
            "message_id": 2,
            "from": {"id": 777, "is_bot": False, "first_name": "Agent"},
            "chat": {"id": -100123, "type": "supergroup"},
            "date": 1750000000,
            "caption": "see photo",
            "photo": [{"file_id": "small", "file_size": 10}, {"file_id": "big", "file_size": 99}],
        },
    }
    event = telegram.normalise(telegram.TelegramUpdate.model_validate(payload), CONTEXT)
    assert event is not None
    assert event.interaction.direction is Direction.OUTBOUND  # 777 is an agent id
    assert event.interaction.body.text == "see photo"
    assert [a.url for a in event.interaction.attachments] == ["telegram-file:big"]


def test_telegram_edited_message_is_ignored():
    payload = {"update_id": 3, "edited_message": samples.telegram_payload(1)["message"]}
    assert telegram.normalise(telegram.TelegramUpdate.model_validate(payload), CONTEXT) is None


def test_slack_user_message_and_bot_message():
    envelope = slack.SlackEnvelope.model_validate(samples.slack_payload(8))
    event = slack.normalise(envelope, CONTEXT)
    assert event is not None
    data = event.interaction
    ts = samples.slack_payload(8)["event"]["ts"]
    assert event.id == deterministic_id("slack", "main", "T0001", "C2147483705", ts)
    assert data.customer.handle == "slack:U0000008"
    assert data.customer_key == "slack:T0001/C2147483705"
    assert data.direction is Direction.INBOUND
    assert data.thread.provider_thread_id.startswith("C2147483705:1750000008")

    bot = samples.slack_payload(9)
    bot["event"] = {**bot["event"], "user": None, "bot_id": "B01", "subtype": "bot_message"}
    bot_event = slack.normalise(slack.SlackEnvelope.model_validate(bot), CONTEXT)
    assert bot_event is not None
    assert bot_event.interaction.direction is Direction.OUTBOUND
    assert bot_event.interaction.customer_key == data.customer_key  # same partition

    agent = samples.slack_payload(10)
    agent["event"] = {**agent["event"], "user": "U_AGENT"}
    agent_event = slack.normalise(slack.SlackEnvelope.model_validate(agent), CONTEXT)
    assert agent_event is not None and agent_event.interaction.direction is Direction.OUTBOUND


def test_slack_mention_and_message_of_one_message_share_an_id():
    message = samples.slack_payload(11)
    mention = samples.slack_payload(11)
    mention["event_id"] = "EvOTHER"
    mention["event"] = {**mention["event"], "type": "app_mention"}
    first = slack.normalise(slack.SlackEnvelope.model_validate(message), CONTEXT)
    second = slack.normalise(slack.SlackEnvelope.model_validate(mention), CONTEXT)
    assert first is not None and second is not None
    assert first.id == second.id


def test_slack_edits_and_other_events_are_ignored():
    edited = samples.slack_payload(1)
    edited["event"] = {**edited["event"], "subtype": "message_changed"}
    assert slack.normalise(slack.SlackEnvelope.model_validate(edited), CONTEXT) is None
    reaction = samples.slack_payload(2)
    reaction["event"] = {"type": "reaction_added", "user": "U1"}
    assert slack.normalise(slack.SlackEnvelope.model_validate(reaction), CONTEXT) is None


def test_slack_message_without_event_id_is_malformed():
    payload = samples.slack_payload(1)
    del payload["event_id"]
    with pytest.raises(MalformedPayload):
        slack.normalise(slack.SlackEnvelope.model_validate(payload), CONTEXT)


def test_line_text_and_image_and_follow():
    payload = samples.line_payload(6)
    payload["events"].append(
        {
            "type": "message",
            "message": {"type": "image", "id": "555", "contentProvider": {"type": "line"}},
            "webhookEventId": "01H810YECXQQZ37VAXPF6H9E6Z",
            "timestamp": 1750000000000,
            "source": {"type": "group", "groupId": "Cgroup", "userId": "Uimg"},
            "deliveryContext": {"isRedelivery": True},
        }
    )
    payload["events"].append(
        {
            "type": "follow",
            "timestamp": 1,
            "source": {"userId": "U1"},
            "webhookEventId": "01H810YECXQQZ37VAXPF6H9E70",
        }
    )
    events, ignored = line.normalise(line.LineWebhook.model_validate(payload), CONTEXT)
    assert ignored == 1
    text, image = events
    assert text.id == deterministic_id("line", "main", payload["events"][0]["webhookEventId"])
    assert text.interaction.body.text == "配送状況を教えてください 6"
    assert text.interaction.customer.handle.startswith("line:U")
    assert text.interaction.occurred_at == datetime.fromtimestamp(1_750_000_000.006, UTC)
    assert image.interaction.attachments[0].url == "line-content:555"
    assert image.interaction.thread.provider_thread_id == "Cgroup"


def test_channeltalk_user_message_is_inbound_with_phone():
    payload = channeltalk.ChannelTalkWebhook.model_validate(samples.channeltalk_payload(12))
    event = channeltalk.normalise(payload, CONTEXT)
    assert event is not None
    data = event.interaction
    entity = samples.channeltalk_payload(12)["entity"]
    assert event.id == deterministic_id("channeltalk", "main", entity["id"])
    assert data.direction is Direction.INBOUND
    assert data.customer.handle == f"channeltalk:{entity['personId']}"
    assert data.customer.phone == "+821098765432"
    assert data.customer_key == data.customer.handle
    assert data.customer.display_name == "이서연"
    assert data.body.text == "결제가 두 번 되었어요 (12)"
    assert data.thread.provider_thread_id == entity["chatId"]


def test_channeltalk_manager_message_is_outbound_for_the_same_customer():
    user = channeltalk.normalise(
        channeltalk.ChannelTalkWebhook.model_validate(samples.channeltalk_payload(13)), CONTEXT
    )
    manager = channeltalk.normalise(
        channeltalk.ChannelTalkWebhook.model_validate(
            samples.channeltalk_payload(13, person_type="manager")
        ),
        CONTEXT,
    )
    assert user is not None and manager is not None
    assert manager.interaction.direction is Direction.OUTBOUND
    assert manager.interaction.customer_key == user.interaction.customer_key


def test_channeltalk_other_events_are_ignored():
    payload = {"event": "push", "type": "userChat", "entity": {"id": "x"}}
    model = channeltalk.ChannelTalkWebhook.model_validate(payload)
    assert channeltalk.normalise(model, CONTEXT) is None


def test_kakao_id_is_derived_from_user_text_and_time_bucket():
    payload = kakao.KakaoSkillPayload.model_validate(samples.kakao_payload(14))
    first = kakao.normalise(payload, CONTEXT, window_s=10)
    later_same_bucket = kakao.normalise(
        payload, IngestContext("main", RECEIVED.replace(second=9)), window_s=10
    )
    next_bucket = kakao.normalise(
        payload, IngestContext("main", RECEIVED.replace(second=10)), window_s=10
    )
    assert first.id == later_same_bucket.id
    assert first.id != next_bucket.id
    assert first.interaction.customer.handle == "kakao:kakao-user-14"
    assert first.interaction.customer.locale == "ko"
    assert first.interaction.body.text == "상담원 연결해 주세요 14"


def test_webchat_visitor_and_agent_messages():
    message = webchat.WebchatMessage.model_validate(samples.webchat_payload(15))
    event = webchat.normalise(message, CONTEXT)
    data = event.interaction
    assert event.id == deterministic_id("webchat", "main", "msg-15")
    assert data.customer.handle == "webchat:visitor-15"
    assert data.occurred_at == datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    assert data.thread.provider_thread_id == "conv-15"
    agent = webchat.WebchatMessage.model_validate(
        {**samples.webchat_payload(16), "author": "agent"}
    )
    assert webchat.normalise(agent, CONTEXT).interaction.direction is Direction.OUTBOUND


def test_event_ids_are_stable_and_separate_integrations():
    message = webchat.WebchatMessage.model_validate(samples.webchat_payload(1))
    other = IngestContext("other", RECEIVED)
    assert webchat.normalise(message, CONTEXT).id == webchat.normalise(message, CONTEXT).id
    assert webchat.normalise(message, CONTEXT).id != webchat.normalise(message, other).id


def test_cloud_event_envelope():
    message = webchat.WebchatMessage.model_validate(samples.webchat_payload(1))
    event = webchat.normalise(message, CONTEXT).cloud_event()
    assert event.type == "support.message.received"
    assert event.source == "omnidesk/chat_ingest/webchat/main"
    assert event.time == event.data.occurred_at


def test_cloud_event_is_the_dataclass_the_constructor_builds():
    # ChatEvent.cloud_event builds it with libs.common.cloudevents.cloud_event: same object
    message = webchat.WebchatMessage.model_validate(samples.webchat_payload(2))
    chat = webchat.normalise(message, CONTEXT)
    data = chat.interaction
    expected = CloudEvent(
        id=chat.id,
        source=f"omnidesk/chat_ingest/{data.provider}/{data.integration}",
        type=data.event_type(),
        data=data,
        time=data.occurred_at,
    )
    built = chat.cloud_event()
    assert built == expected
    assert encode(built) == encode(expected)
    assert built.subject is None and built.extensions == {}
