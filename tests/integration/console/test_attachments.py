"""The conversation page lists attachments and call recordings (#18), through the
attachments service on the real store; names are text, bytes come with safe headers."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from libs.common.blobstore import BlobStore
from libs.common.events.interaction import (
    Attachment,
    CallDetails,
    Channel,
    CustomerIdentity,
    Interaction,
    InteractionKind,
    MessageBody,
)
from services.router.service.interactions import Incoming, route_batch
from tests.integration.console.test_pages import console, signed_in

__all__ = ["console"]
pytestmark = pytest.mark.integration

HOSTILE = '"><img src=x onerror=alert(1)>.html'
HTML = b"<html><script>alert(document.cookie)</script></html>"
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"


async def test_attachments_and_recordings_on_the_conversation_page(console):
    _, runtime, keys, clock, transport = console
    ctx = runtime.ctx
    html_sha = BlobStore(runtime.settings.blob_dirs[0]).put(HTML)
    now = clock()
    mail = Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email="carol@example.com"),
        subject="Invoice",
        body=MessageBody(text="see attached"),
        attachments=[
            Attachment(name=HOSTILE, content_type="text/html", size=len(HTML), sha256=html_sha),
            Attachment(name="media.jpg", content_type="image/jpeg", url="javascript:alert(1)"),
        ],
    )
    call = Interaction(
        channel=Channel.PHONE,
        provider="twilio",
        integration="main-line",
        kind=InteractionKind.CALL_ENDED,
        occurred_at=now + timedelta(minutes=1),
        received_at=now + timedelta(minutes=1),
        customer=CustomerIdentity(phone="+821012345678"),
        call=CallDetails(call_id="CA1", status="completed", recording_url=RECORDING),
    )
    await route_batch(ctx, [Incoming("ev-mail", mail), Incoming("ev-call", call)])
    supervisor = {"X-API-Key": keys["lead"]}
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as api:
        listed = (await api.get("/conversations", headers=supervisor)).json()["items"]
    by_channel = {c["channel"]: c["id"] for c in listed if c["id"]}
    mail_id = next(c["id"] for c in listed if c["subject"] == "Invoice")

    async with signed_in(transport, keys["lead"]) as client:
        html = (await client.get(f"/console/conversations/{mail_id}")).text
        block = html[html.index('id="attachments"') :]
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.html" in block
        assert "<img src=x" not in html
        assert "text/html" in block and f"{len(HTML)} B" in block
        download = re.search(r'href="(/console/attachments/[^"]+)"', block).group(1)
        assert "javascript:" not in block  # a hostile provider link is text, not a link
        assert "media.jpg" in block

        served = await client.get(download)
        assert served.status_code == 200 and served.content == HTML
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"].startswith("attachment;")
        assert served.headers["x-content-type-options"] == "nosniff"

        phone = (await client.get(f"/console/conversations/{by_channel['phone']}")).text
        block = phone[phone.index('id="attachments"') :]
        assert f'href="{RECORDING}"' in block and 'rel="noopener noreferrer"' in block
        assert "attachment-recording" in block

    # Smith is not an agent of the phone queue: the service's queue rule refuses the
    # recording's row whether or not bytes exist, and the refusal is audited too.
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as api:
        path = f"/conversations/{by_channel['phone']}/attachments"
        [recording] = (await api.get(path, headers=supervisor)).json()
    async with signed_in(transport, keys["smith"]) as client:
        assert (await client.get(f"/console/attachments/{recording['id']}")).status_code == 403
        assert (await client.get(download)).status_code == 200  # en-support: his queue
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as api:
        audit = (
            await api.get("/audit", params={"action": "console.attachment"}, headers=supervisor)
        ).json()["items"]
    outcomes = [(a["actor"], a["outcome"]) for a in audit]
    assert outcomes == [("lead-kim", "ok"), ("agent-smith", "403"), ("agent-smith", "ok")]
    assert audit[0]["conversation_id"] == mail_id
