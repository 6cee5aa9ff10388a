"""A reply sent through a fixture comes back as signed status webhooks to chat_ingest.

The fixtures' status switch does what WhatsApp and Twilio do: after accepting
a message they POST its statuses, signed, to the configured webhook; the real
chat_ingest app (over a socket) turns them into receipts of *our* message id.
chat_ingest publishes a receipt before it answers the webhook, so a test has
its receipts before the fixture has recorded the answers: it awaits
``callbacks_done()`` first (a CI run once saw ``[200]`` for ``[200, 200]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from libs.common.events import DeliveryState, InteractionKind
from libs.common.events.base import utc_now
from libs.providers.integrations import Provider, webhook_path
from libs.providers.outbound import SendVerdict
from libs.providers.registry import make_sender
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.chat_ingest import FakeProducer
from tests.provider_fakes import ProviderFakes
from tests.provider_fakes.messages import ADDRESSES, reply
from tests.provider_fakes.server import serve_app, stop_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[ProviderFakes]:
    async with ProviderFakes() as running:
        yield running


@pytest.fixture
async def chat_ingest(fakes: ProviderFakes) -> AsyncIterator[tuple[str, FakeProducer]]:
    fakes.reset()
    producer = FakeProducer()
    settings = ChatIngestSettings(
        integrations=[fakes.integration(Provider.WHATSAPP), fakes.integration(Provider.TWILIO)]
    )
    server, task, base_url = await serve_app(
        create_app(settings, publisher=producer), lifespan="on"
    )
    try:
        yield base_url, producer
    finally:
        await stop_app(server, task)


async def receipts(producer: FakeProducer, count: int) -> list:
    async with asyncio.timeout(10):
        while len(producer.sent) < count:  # noqa: ASYNC110 - the fake producer has no event
            await asyncio.sleep(0.02)
    return [event.data for _, event, _ in producer.sent]


async def test_whatsapp_delivered_and_read_reach_chat_ingest_as_receipts(
    fakes: ProviderFakes, chat_ingest: tuple[str, FakeProducer]
) -> None:
    base_url, producer = chat_ingest
    fakes.whatsapp.status_webhook_url = base_url + webhook_path(Provider.WHATSAPP, "main")
    fakes.whatsapp.report_statuses = ("delivered", "read")
    fakes.whatsapp.customer_wrote(ADDRESSES[Provider.WHATSAPP])
    async with httpx.AsyncClient() as client:
        sender = make_sender(fakes.integration(Provider.WHATSAPP), client)
        outcome = await sender.send(
            reply(Provider.WHATSAPP, last_inbound=utc_now() - timedelta(minutes=1))
        )
    assert outcome.verdict is SendVerdict.ACCEPTED
    data = await receipts(producer, 2)
    assert [d.kind for d in data] == [InteractionKind.DELIVERY_STATUS] * 2
    assert {d.receipt.provider_message_id for d in data} == {outcome.provider_message_id}
    assert [d.receipt.state for d in data] == [DeliveryState.DELIVERED, DeliveryState.READ]
    # chat_ingest publishes a receipt before it answers the webhook: wait for the answers.
    await fakes.whatsapp.callbacks_done()
    assert fakes.whatsapp.status_answers == [200, 200]


async def test_whatsapp_window_error_by_webhook_arrives_as_a_failed_receipt(
    fakes: ProviderFakes, chat_ingest: tuple[str, FakeProducer]
) -> None:
    base_url, producer = chat_ingest
    fakes.whatsapp.status_webhook_url = base_url + webhook_path(Provider.WHATSAPP, "main")
    fakes.whatsapp.window_errors_by_webhook = True  # accepted now, failed later (Meta does both)
    async with httpx.AsyncClient() as client:
        outcome = await make_sender(fakes.integration(Provider.WHATSAPP), client).send(
            reply(Provider.WHATSAPP, last_inbound=utc_now())
        )
    assert outcome.verdict is SendVerdict.ACCEPTED
    [data] = await receipts(producer, 1)
    assert data.receipt.state is DeliveryState.FAILED and data.receipt.error_code == "131047"
    await fakes.whatsapp.callbacks_done()  # its answer must not land in the next test's list
    assert fakes.whatsapp.status_answers == [200]


async def test_twilio_status_callback_url_gets_signed_callbacks(
    fakes: ProviderFakes, chat_ingest: tuple[str, FakeProducer]
) -> None:
    base_url, producer = chat_ingest
    callback = base_url + webhook_path(Provider.TWILIO, "main")
    fakes.twilio.report_statuses = ("sent", "delivered")
    integration = fakes.integration(Provider.TWILIO, status_callback_url=callback)
    async with httpx.AsyncClient() as client:
        outcome = await make_sender(integration, client).send(reply(Provider.TWILIO))
    assert outcome.verdict is SendVerdict.ACCEPTED
    data = await receipts(producer, 2)
    assert {d.receipt.provider_message_id for d in data} == {outcome.provider_message_id}
    assert [d.receipt.state for d in data] == [DeliveryState.SENT, DeliveryState.DELIVERED]
    await fakes.twilio.callbacks_done()
    assert fakes.twilio.status_answers == [200, 200]
