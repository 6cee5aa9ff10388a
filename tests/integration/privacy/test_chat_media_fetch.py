"""Telegram attachments (only a ``file_id`` in the webhook) fetched once into the
blob store, against the strict Telegram fixture (getFile + file download, real
sockets); refusals, sizes and types keep the reference, never drop the message."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import httpx
import pytest

from libs.common.blobstore import BlobStore
from libs.common.cloudevents import decode
from libs.providers.inbound import IngestContext, normalised
from libs.providers.integrations import Provider, webhook_path
from libs.providers.registry import PROVIDERS
from libs.providers.webhooks import InboundOptions, WebhookInput
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.media import MediaFetcher, MediaPolicy
from services.chat_ingest.samples import telegram_payload, whatsapp_payload
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.kafka import read_topic
from tests.provider_fakes import ProviderFakes

pytestmark = pytest.mark.integration

SCAN = b"%PDF-1.7 bank slip of the customer"


def telegram_update(seq: int, **document) -> list:
    payload = telegram_payload(seq)
    payload["message"].pop("text", None)
    payload["message"]["caption"] = "my bank slip"
    payload["message"]["document"] = document
    webhook = WebhookInput(
        body=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
        query={},
        url="",
        received_at=datetime.now(UTC),
    )
    context = IngestContext(integration_id="main", received_at=webhook.received_at)
    spec = PROVIDERS[Provider.TELEGRAM].inbound
    return normalised(spec.parse, webhook, context, InboundOptions()).events


async def test_telegram_files_are_fetched_once_into_the_blob_store(tmp_path):
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        integration = fakes.integration(Provider.TELEGRAM)
        fakes.telegram.add_file("doc-1", SCAN, path="documents/file_7.pdf")
        fakes.telegram.add_file("big-1", b"x" * 2048, path="documents/file_8.pdf")
        blobs = BlobStore(tmp_path / "blobs")
        fetcher = MediaFetcher(blobs, client, MediaPolicy(max_bytes=1024))

        [event] = telegram_update(
            1, file_id="doc-1", file_unique_id="u1", mime_type="application/pdf",
            file_name="slip.pdf", file_size=len(SCAN),
        )  # fmt: skip
        assert event.interaction.attachments[0].url == "telegram-file:doc-1"
        [resolved] = await fetcher.resolve(integration, [event])
        attachment = resolved.interaction.attachments[0]
        assert attachment.sha256 == hashlib.sha256(SCAN).hexdigest()
        assert attachment.size == len(SCAN) and attachment.url is None
        assert blobs.get(attachment.sha256) == SCAN
        assert resolved.id == event.id  # the same event, now with its bytes kept
        token = fakes.telegram.token
        assert [r.path for r in fakes.telegram.accepted] == [
            f"/bot{token}/getFile",
            f"/file/bot{token}/documents/file_7.pdf",
        ]
        assert fakes.telegram.accepted[0].body == {"file_id": "doc-1"}

        # Over the limit (getFile tells the size), unknown to Telegram, not allowed:
        # the message goes on with its reference.
        for seq, file_id, mime in ((2, "big-1", "application/pdf"), (3, "gone", "image/png"),
                                   (4, "doc-1", "text/html")):  # fmt: skip
            [other] = telegram_update(seq, file_id=file_id, mime_type=mime)
            [kept] = await fetcher.resolve(integration, [other])
            assert kept.interaction.attachments[0].url == f"telegram-file:{file_id}"
            assert kept.interaction.attachments[0].sha256 is None
        assert [(r.status, r.reason) for r in fakes.telegram.refused] == [(400, "unknown file")]
        assert len(list(blobs.blobs())) == 1


async def test_the_webhook_publishes_the_fetched_file_not_the_reference(kafka_topics, tmp_path):
    """Through the real chat_ingest app and broker: webhook in, getFile + download at the
    fixture, the blob stored, the interaction on the topic carrying its sha256."""
    async with ProviderFakes() as fakes:
        integration = fakes.integration(Provider.TELEGRAM, id="it")
        fakes.telegram.add_file("doc-9", SCAN, path="documents/file_9.pdf")
        settings = ChatIngestSettings(
            kafka=kafka_topics, integrations=[integration], blob_dir=tmp_path / "blobs"
        )
        app = create_app(settings)
        payload = telegram_payload(9)
        payload["message"].pop("text", None)
        payload["message"]["document"] = {
            "file_id": "doc-9",
            "file_unique_id": "u9",
            "mime_type": "application/pdf",
            "file_name": "slip.pdf",
            "file_size": len(SCAN),
        }
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": integration.secret.get_secret_value(),
        }
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://chat") as client:
                answer = await client.post(
                    webhook_path(Provider.TELEGRAM, "it"),
                    content=json.dumps(payload),
                    headers=headers,
                )
        assert answer.status_code == 200, answer.text
        [record] = await read_topic(kafka_topics, kafka_topics.topics.interactions, 1)
        [attachment] = decode(record.headers, record.value).data.attachments
        assert attachment.sha256 == hashlib.sha256(SCAN).hexdigest() and attachment.url is None
        assert BlobStore(tmp_path / "blobs").get(attachment.sha256) == SCAN


async def test_whatsapp_media_are_fetched_and_checked_against_metas_sha256(tmp_path):
    photo = b"\xff\xd8\xff photo of an ID card"
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        integration = fakes.integration(Provider.WHATSAPP)
        fakes.whatsapp.add_media("m-1", photo, "image/jpeg")
        blobs = BlobStore(tmp_path / "blobs")
        fetcher = MediaFetcher(blobs, client, MediaPolicy())
        payload = whatsapp_payload(5)
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        message.pop("text")
        message["type"] = "image"
        message["image"] = {"id": "m-1", "mime_type": "image/jpeg", "sha256": "not-a-hex-digest"}
        [event] = parse(Provider.WHATSAPP, payload)
        assert event.interaction.attachments[0].url == "whatsapp-media:m-1"
        [resolved] = await fetcher.resolve(integration, [event])
        attachment = resolved.interaction.attachments[0]
        assert attachment.sha256 == hashlib.sha256(photo).hexdigest() and attachment.url is None
        assert blobs.get(attachment.sha256) == photo
        token = {r.header("authorization") for r in fakes.whatsapp.accepted}
        assert token == {f"Bearer {fakes.whatsapp.access_token}"}
        assert [r.path for r in fakes.whatsapp.accepted] == [
            f"/{fakes.whatsapp.api_version}/m-1",
            "/whatsapp_business/attachments/",
        ]

        message["image"] = {"id": "m-gone", "mime_type": "image/jpeg"}
        [missing] = parse(Provider.WHATSAPP, payload)
        [kept] = await fetcher.resolve(integration, [missing])
        assert kept.interaction.attachments[0].url == "whatsapp-media:m-gone"
        assert [(r.status, r.reason) for r in fakes.whatsapp.refused] == [(400, "unknown media id")]


def parse(provider: Provider, payload: dict) -> list:
    webhook = WebhookInput(
        body=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
        query={},
        url="",
        received_at=datetime.now(UTC),
    )
    context = IngestContext(integration_id="main", received_at=webhook.received_at)
    return normalised(PROVIDERS[provider].inbound.parse, webhook, context, InboundOptions()).events
