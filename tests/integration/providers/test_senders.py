"""The production senders against the strict provider fixtures (real sockets).

Only the integration's ``api_base_url`` differs from production. Each case
checks what the fixture received as well as the outcome the sender reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from libs.common.events.base import utc_now
from libs.providers.integrations import Provider
from libs.providers.outbound import OutboundMessage, SendVerdict, Unsendable
from libs.providers.registry import NotConfigured, make_sender
from tests.provider_fakes import ProviderFakes
from tests.provider_fakes.base import FakeProvider
from tests.provider_fakes.messages import ADDRESSES, SURVEY, reply

pytestmark = pytest.mark.integration

SENDING = [
    Provider.TELEGRAM,
    Provider.WHATSAPP,
    Provider.TWILIO,
    Provider.LINE,
    Provider.SLACK,
    Provider.CHANNELTALK,
    Provider.KAKAO,
]


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[ProviderFakes]:
    async with ProviderFakes() as running:
        yield running


@pytest.fixture
async def client(fakes: ProviderFakes) -> AsyncIterator[httpx.AsyncClient]:
    fakes.reset()
    async with httpx.AsyncClient() as http:
        yield http


def fake_of(fakes: ProviderFakes, provider: Provider) -> FakeProvider:
    return getattr(fakes, provider.value)


def message_for(fakes: ProviderFakes, provider: Provider, **kw: Any) -> OutboundMessage:
    """A reply the provider can take now (window open, fresh callback / reply token)."""
    now = utc_now()
    parts: dict[str, Any] = {}
    if provider is Provider.WHATSAPP:
        fakes.whatsapp.customer_wrote(ADDRESSES[provider], now - timedelta(minutes=5))
    if provider is Provider.KAKAO:
        url, expires = fakes.kakao.issue_callback()
        parts.update(callback_url=url, callback_expires_at=expires)
    if provider is Provider.LINE:
        parts.update(
            reply_token=fakes.line.issue_reply_token(),
            reply_token_expires_at=now + timedelta(seconds=20),
        )
    parts.update(kw)
    return reply(provider, last_inbound=now - timedelta(minutes=5), **parts)


@pytest.mark.parametrize("provider", SENDING)
async def test_a_reply_is_accepted_and_the_provider_got_exactly_one_request(
    provider: Provider, fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    sender = make_sender(fakes.integration(provider), client)
    message = message_for(fakes, provider, quick_replies=SURVEY[:3])
    outcome = await sender.send(message)
    assert outcome.verdict is SendVerdict.ACCEPTED, outcome
    assert outcome.provider_message_id and outcome.accepted_at is not None
    fake = fake_of(fakes, provider)
    assert len(fake.accepted) == 1 and not fake.refused
    assert message.text in str(fake.accepted[0].body)


@pytest.mark.parametrize("provider", SENDING)
async def test_rate_limit_answers_retry_with_the_providers_hint_then_the_retry_is_accepted(
    provider: Provider, fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    sender = make_sender(fakes.integration(provider), client)
    fake = fake_of(fakes, provider)
    fake.fail_next(1, "rate_limited", retry_after_s=2)
    message = message_for(fakes, provider)
    first = await sender.send(message)
    assert first.verdict is SendVerdict.RETRY and first.retry_after_s == 2.0, first
    assert first.http_status == 429
    if provider is Provider.KAKAO:  # the refused try did not use the callback
        fakes.kakao.callbacks[message.path.callback_url.rsplit("/", 1)[1]] = (  # type: ignore[union-attr]
            message.path.callback_expires_at  # type: ignore[assignment]
        )
    second = await sender.send(message)
    assert second.verdict is SendVerdict.ACCEPTED, second
    assert len(fake.accepted) == 1 and len(fake.refused) == 1


@pytest.mark.parametrize("provider", SENDING)
async def test_provider_outage_answers_retry(
    provider: Provider, fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    fake_of(fakes, provider).fail_next(1, "unavailable")
    outcome = await make_sender(fakes.integration(provider), client).send(
        message_for(fakes, provider)
    )
    assert outcome.verdict is SendVerdict.RETRY and outcome.error_code == "provider_unavailable"


@pytest.mark.parametrize("provider", SENDING)
async def test_documented_permanent_error_is_permanent_and_named(
    provider: Provider, fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    fake_of(fakes, provider).fail_next(1, "permanent")
    outcome = await make_sender(fakes.integration(provider), client).send(
        message_for(fakes, provider)
    )
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code, outcome
    assert outcome.error_detail


@pytest.mark.parametrize("provider", SENDING)
async def test_text_over_the_providers_limit_is_unsendable_and_nothing_is_sent(
    provider: Provider, fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    sender = make_sender(fakes.integration(provider), client)
    message = message_for(fakes, provider, text="가" * (sender.max_text_chars + 1))
    with pytest.raises(Unsendable) as caught:
        sender.check(message, now=utc_now())
    assert caught.value.code == "too_long" and caught.value.limit == sender.max_text_chars
    outcome = await sender.send(message)
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code == "too_long"
    fake = fake_of(fakes, provider)
    assert not fake.accepted and not fake.refused


@pytest.mark.parametrize("provider", SENDING)
async def test_a_wrong_credential_is_refused_by_the_fixture_and_permanent(
    provider: Provider, fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    if provider is Provider.KAKAO:
        pytest.skip("Kakao callbacks carry no credential: the URL itself is the capability")
    wrong = {
        Provider.TWILIO: {"auth_token": "wrong"},
        Provider.CHANNELTALK: {"access_secret": "wrong"},
    }.get(provider, {"token": "wrong"})
    sender = make_sender(fakes.integration(provider, **wrong), client)
    outcome = await sender.send(message_for(fakes, provider))
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code == "bad_token", outcome
    assert len(fake_of(fakes, provider).refused) == 1


# --- provider-specific refusals, as the real APIs answer them ---


async def test_telegram_user_who_blocked_the_bot(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    fakes.telegram.blocked_chats.add(ADDRESSES[Provider.TELEGRAM])
    try:
        outcome = await make_sender(fakes.integration(Provider.TELEGRAM), client).send(
            message_for(fakes, Provider.TELEGRAM)
        )
    finally:
        fakes.telegram.blocked_chats.clear()
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code == "blocked_by_user"
    assert outcome.error_detail == "Forbidden: bot was blocked by the user"


async def test_whatsapp_outside_the_window_is_refused_with_131047(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    # Our side believes the window is open (stale data); WhatsApp knows better.
    outcome = await make_sender(fakes.integration(Provider.WHATSAPP), client).send(
        reply(Provider.WHATSAPP, last_inbound=utc_now())
    )
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code == "window_closed"
    assert "131047" in (outcome.error_detail or "")


async def test_whatsapp_outside_the_window_uses_the_template(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    integration = fakes.integration(Provider.WHATSAPP, window_template="omnidesk_reply")
    stale = reply(Provider.WHATSAPP, last_inbound=utc_now() - timedelta(days=2))
    outcome = await make_sender(integration, client).send(stale)
    assert outcome.verdict is SendVerdict.ACCEPTED
    assert fakes.whatsapp.accepted[0].body["type"] == "template"


async def test_twilio_invalid_to_is_21211(fakes: ProviderFakes, client: httpx.AsyncClient) -> None:
    outcome = await make_sender(fakes.integration(Provider.TWILIO), client).send(
        reply(Provider.TWILIO, address="not-a-number")
    )
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code == "invalid_recipient"
    assert (outcome.error_detail or "").startswith("21211")


async def test_twilio_whatsapp_reply_and_form_fields(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    integration = fakes.integration(
        Provider.TWILIO, status_callback_url="https://hooks.example.com/webhooks/twilio/main"
    )
    outcome = await make_sender(integration, client).send(
        reply(Provider.TWILIO, address="whatsapp:+821012345678")
    )
    assert outcome.verdict is SendVerdict.ACCEPTED and outcome.provider_message_id.startswith("SM")
    form = fakes.twilio.accepted[0].body
    assert form["From"] == "whatsapp:+15005550006" and form["StatusCallback"].startswith("https")


async def test_line_expired_reply_token_falls_back_to_one_push(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    message = reply(
        Provider.LINE,
        reply_token="never-issued",
        reply_token_expires_at=utc_now() + timedelta(seconds=20),
    )
    outcome = await make_sender(fakes.integration(Provider.LINE), client).send(message)
    assert outcome.verdict is SendVerdict.ACCEPTED
    assert [r.path for r in fakes.line.refused] == ["/v2/bot/message/reply"]
    assert [r.path for r in fakes.line.accepted] == ["/v2/bot/message/push"]


async def test_line_push_repeated_after_a_lost_answer_is_not_sent_twice(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    sender = make_sender(fakes.integration(Provider.LINE), client)
    message = reply(Provider.LINE, key="reply-lost-answer")
    first = await sender.send(message)
    again = await sender.send(message)  # e.g. after a crash before the outcome was recorded
    assert first.verdict is again.verdict is SendVerdict.ACCEPTED
    assert len(fakes.line.accepted) == 1 and fakes.line.refused[0].status == 409


async def test_slack_unknown_channel_is_200_ok_false(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    outcome = await make_sender(fakes.integration(Provider.SLACK), client).send(
        reply(Provider.SLACK, address="")
    )
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code == "invalid_recipient"
    assert outcome.http_status == 200 and outcome.error_detail == "channel_not_found"


async def test_kakao_callback_is_single_use(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    sender = make_sender(fakes.integration(Provider.KAKAO), client)
    message = message_for(fakes, Provider.KAKAO)
    assert (await sender.send(message)).verdict is SendVerdict.ACCEPTED
    second = await sender.send(message.model_copy(update={"idempotency_key": "another"}))
    assert second.verdict is SendVerdict.PERMANENT and second.error_code == "callback_expired"


async def test_webchat_has_no_sender_and_missing_credentials_are_named(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    with pytest.raises(NotConfigured, match="outbox"):
        make_sender(fakes.integration(Provider.WEBCHAT), client)
    bare = fakes.integration(Provider.WHATSAPP, phone_number_id=None)
    with pytest.raises(NotConfigured, match=r"outbound\.phone_number_id"):
        make_sender(bare, client)


async def test_network_failure_is_retry(client: httpx.AsyncClient, fakes: ProviderFakes) -> None:
    closed = fakes.integration(Provider.TELEGRAM, api_base_url="http://127.0.0.1:9")
    outcome = await make_sender(closed, client).send(message_for(fakes, Provider.TELEGRAM))
    assert outcome.verdict is SendVerdict.RETRY and outcome.error_code == "network"


async def test_a_reply_path_the_provider_cannot_use_is_permanent_not_a_crash(
    fakes: ProviderFakes, client: httpx.AsyncClient
) -> None:
    sender = make_sender(fakes.integration(Provider.TELEGRAM), client)
    outcome = await sender.send(reply(Provider.TELEGRAM, thread="not-a-topic-id"))
    assert outcome.verdict is SendVerdict.PERMANENT and outcome.error_code == "invalid_reply_path"
    assert not fakes.telegram.accepted and not fakes.telegram.refused
