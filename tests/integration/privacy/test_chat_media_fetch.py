"""Chat attachments that are only provider references (Telegram ``file_id``, WhatsApp
media id, Slack file id, LINE message content) fetched once into the blob store,
against the strict provider fixtures (real sockets); refusals, sizes and types keep
the reference, never drop the message."""

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
from services.chat_ingest.samples import (
    line_payload,
    slack_payload,
    telegram_payload,
    whatsapp_payload,
)
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


def slack_share(seq: int, *files: dict) -> dict:
    payload = slack_payload(seq)
    payload["event"].update(subtype="file_share", text="my ID card", files=list(files))
    return payload


async def test_slack_private_files_are_fetched_through_files_info_with_the_bot_token(tmp_path):
    card = b"\x89PNG ID card of the customer"
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        integration = fakes.integration(Provider.SLACK)
        fakes.slack.add_file("F0CARD", card, "image/png", "card.png")
        blobs = BlobStore(tmp_path / "blobs")
        fetcher = MediaFetcher(blobs, client, MediaPolicy())
        # As a file_share event carries it when the app must ask files.info: id only.
        only_id = {"id": "F0CARD", "file_access": "check_file_info", "mimetype": "image/png"}
        [event] = parse(Provider.SLACK, slack_share(1, only_id))
        assert event.interaction.attachments[0].url == "slack-file:F0CARD"
        [resolved] = await fetcher.resolve(integration, [event])
        attachment = resolved.interaction.attachments[0]
        assert attachment.sha256 == hashlib.sha256(card).hexdigest() and attachment.url is None
        assert blobs.get(attachment.sha256) == card
        calls = fakes.slack.accepted
        assert [r.path for r in calls] == [
            "/api/files.info",
            "/files-pri/T0OMNIDESK-F0CARD/download/card.png",
        ]
        assert {r.header("authorization") for r in calls} == {f"Bearer {fakes.slack.bot_token}"}

        # Unknown to Slack (files.info ok:false) and a token Slack refuses (its sign-in
        # page instead of the bytes): the reference stays, the message goes on.
        [gone] = parse(Provider.SLACK, slack_share(2, {"id": "F0GONE", "mimetype": "image/png"}))
        [kept] = await fetcher.resolve(integration, [gone])
        assert kept.interaction.attachments[0].url == "slack-file:F0GONE"
        wrong = fakes.integration(Provider.SLACK, token="xoxb-someone-elses-token")
        [again] = await fetcher.resolve(wrong, [event])
        assert again.interaction.attachments[0].sha256 is None
        assert [r.reason for r in fakes.slack.refused] == ["file_not_found", "invalid_auth"]
        assert len(list(blobs.blobs())) == 1


async def test_slack_sign_in_page_is_not_stored_as_the_customers_file(tmp_path):
    """files.info accepted, download without a usable token: Slack's HTML page, refused."""
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        integration = fakes.integration(Provider.SLACK)
        fakes.slack.add_file("F0SLIP", b"%PDF-1.7 slip", "application/pdf", "slip.pdf")
        [event] = parse(
            Provider.SLACK, slack_share(3, {"id": "F0SLIP", "mimetype": "application/pdf"})
        )
        html_instead = _SignInPageClient(client, fakes.slack.bot_token)
        fetcher = MediaFetcher(BlobStore(tmp_path / "blobs"), html_instead, MediaPolicy())
        [kept] = await fetcher.resolve(integration, [event])
        assert kept.interaction.attachments[0].url == "slack-file:F0SLIP"
        assert [r.reason for r in fakes.slack.refused] == ["file download without a valid token"]


class _SignInPageClient(httpx.AsyncClient):
    """Sends the bot token to files.info only: the download goes without it (as with a
    token lacking files:read), so the fixture answers its sign-in page."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        super().__init__(event_hooks={"request": [self._strip]})
        self._token = token

    async def _strip(self, request: httpx.Request) -> None:
        if "/files-pri/" in request.url.path:
            del request.headers["authorization"]


def line_media_event(seq: int, message_type: str, **fields) -> list:
    payload = line_payload(seq)
    message = payload["events"][0]["message"]
    message.pop("text")
    message.update(type=message_type, id=f"5550{seq}", **fields)
    return parse(Provider.LINE, payload)


async def test_line_content_is_fetched_and_a_video_in_preparation_is_waited_for(tmp_path):
    photo, video = b"\xff\xd8\xff receipt photo", b"\x00\x00\x00\x18ftypmp42 screen recording"
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        integration = fakes.integration(Provider.LINE)
        fakes.line.add_content("55501", photo, "image/jpeg")
        fakes.line.add_content("55502", video, "video/mp4", polls=2)
        blobs = BlobStore(tmp_path / "blobs")
        fetcher = MediaFetcher(blobs, client, MediaPolicy())

        [image] = line_media_event(1, "image", contentProvider={"type": "line"})
        assert image.interaction.attachments[0].url == "line-content:55501"
        [resolved] = await fetcher.resolve(integration, [image])
        assert resolved.interaction.attachments[0].sha256 == hashlib.sha256(photo).hexdigest()
        assert blobs.get(resolved.interaction.attachments[0].sha256) == photo

        [clip] = line_media_event(2, "video", duration=6000, contentProvider={"type": "line"})
        [resolved] = await fetcher.resolve(integration, [clip])
        assert resolved.interaction.attachments[0].sha256 == hashlib.sha256(video).hexdigest()
        content = "/v2/bot/message/55502/content"
        assert [(r.path, r.status) for r in fakes.line.accepted[1:]] == [
            (content, 202),
            (f"{content}/transcoding", 200),
            (f"{content}/transcoding", 200),
            (f"{content}/transcoding", 200),
            (content, 200),
        ]
        token = {r.header("authorization") for r in fakes.line.accepted}
        assert token == {f"Bearer {fakes.line.channel_access_token}"}


async def test_line_refusals_keep_the_reference(tmp_path):
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        integration = fakes.integration(Provider.LINE)
        fakes.line.add_content("55505", b"\x00 audio", "audio/m4a")
        fakes.line.failed_preparations.add("55505")
        fakes.line.add_content("55506", b"%PDF-1.7 " + b"x" * 4096, "application/pdf")
        blobs = BlobStore(tmp_path / "blobs")
        fetcher = MediaFetcher(blobs, client, MediaPolicy(max_bytes=1024))
        cases = [
            line_media_event(4, "image"),  # no such content: 404
            line_media_event(5, "audio", duration=2000),  # preparation failed
            line_media_event(6, "file", fileName="statement.pdf", fileSize=10),  # over the limit
            line_media_event(7, "file", fileName="invoice.html", fileSize=10),  # type not allowed
        ]
        for [event] in cases:
            [kept] = await fetcher.resolve(integration, [event])
            assert kept.interaction.attachments[0].url == event.interaction.attachments[0].url
            assert kept.interaction.attachments[0].sha256 is None
        assert [r.reason for r in fakes.line.refused] == ["no such content"]
        assert not list(blobs.blobs())
        # a "file" message declares no type: its name's (PDF) let it be fetched, and
        # it stopped at the limit although LINE's fileSize claimed 10 bytes.
        assert [r.path for r in fakes.line.accepted][-1] == "/v2/bot/message/55506/content"


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
