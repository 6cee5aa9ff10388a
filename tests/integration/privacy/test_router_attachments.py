"""GET /attachments/{id}: only agents of the conversation's queue; markup downloads.

The bytes are in the blob store the ingest services write (here written with
the same ``BlobStore``); SQLite AND PostgreSQL."""

from __future__ import annotations

import pytest

from libs.common.blobstore import BlobStore
from libs.common.events.interaction import (
    Attachment,
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
)
from services.router.service.api_keys import Role, create_api_key
from services.router.service.interactions import Incoming, route_batch
from tests.integration.privacy.test_router_erasure import router
from tests.integration.router.conftest import clock, database_url, postgres_server, router_settings

__all__ = ["clock", "database_url", "postgres_server", "router", "router_settings"]
pytestmark = pytest.mark.integration

HTML = b"<html><script>fetch('/audit')</script>invoice</html>"
PNG = b"\x89PNG\r\n\x1a\n fake image bytes"


async def test_only_agents_of_the_queue_get_bytes_and_markup_is_a_download(router, clock):
    client, keys, runtime = router
    ctx = runtime.ctx
    blobs = BlobStore(runtime.settings.blob_dirs[0])
    html_sha, png_sha = blobs.put(HTML), blobs.put(PNG)
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
            Attachment(
                name="invoice.html", content_type="text/html", size=len(HTML), sha256=html_sha
            ),
            Attachment(name="receipt.png", content_type="image/png", size=len(PNG), sha256=png_sha),
            Attachment(name="logo.svg", content_type="image/png", size=3, sha256="b" * 64),
        ],
    )
    await route_batch(ctx, [Incoming("ev-attach", mail)])
    supervisor = {"X-API-Key": keys[Role.SUPERVISOR]}
    [conversation] = (await client.get("/conversations", headers=supervisor)).json()["items"]
    queue = conversation["queue"]
    for agent_id, queues in (("in-queue", [queue]), ("elsewhere", [f"not-{queue}"])):
        body = {"id": agent_id, "name": agent_id, "queues": queues}
        admin = {"X-API-Key": keys[Role.ADMIN]}
        assert (await client.post("/agents", json=body, headers=admin)).status_code == 201
    mine = {"X-API-Key": await create_api_key(ctx, role=Role.AGENT, name="a", agent_id="in-queue")}
    other = {
        "X-API-Key": await create_api_key(ctx, role=Role.AGENT, name="b", agent_id="elsewhere")
    }

    listed = await client.get(f"/conversations/{conversation['id']}/attachments", headers=mine)
    assert listed.status_code == 200
    by_name = {a["name"]: a for a in listed.json()}
    assert by_name["invoice.html"]["sha256"] == html_sha
    assert by_name["invoice.html"]["size"] == len(HTML)
    other_list = await client.get(f"/conversations/{conversation['id']}/attachments", headers=other)
    assert other_list.status_code == 403

    html = by_name["invoice.html"]["download"]
    assert (await client.get(html, headers=other)).status_code == 403
    response = await client.get(html, headers=mine)
    assert response.status_code == 200 and response.content == HTML
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"

    png = await client.get(by_name["receipt.png"]["download"], headers=mine)
    assert png.headers["content-type"] == "image/png" and png.content == PNG
    assert png.headers["content-disposition"].startswith("inline;")
    # A declared image named .svg is still markup; its bytes are not kept here: 410.
    assert (await client.get(by_name["logo.svg"]["download"], headers=mine)).status_code == 410
    assert (await client.get("/attachments/nope", headers=mine)).status_code == 404

    audit = (
        await client.get(
            "/audit", params={"action": "GET /attachments/{attachment_id}"}, headers=supervisor
        )
    ).json()
    outcomes = sorted((a["actor"], a["outcome"]) for a in audit["items"])
    assert outcomes == [
        ("elsewhere", "403"),
        ("in-queue", "404"),
        ("in-queue", "ok"),
        ("in-queue", "ok"),
    ]


async def test_erasure_deletes_only_the_bytes_no_one_else_references(router, clock):
    client, keys, runtime = router
    blobs = BlobStore(runtime.settings.blob_dirs[0])
    html_sha, png_sha = blobs.put(HTML), blobs.put(PNG)

    def mail(email: str, *attached: tuple[str, str, str]) -> Interaction:
        return Interaction(
            channel=Channel.EMAIL,
            provider="imap",
            integration="support",
            occurred_at=clock(),
            received_at=clock(),
            customer=CustomerIdentity(email=email),
            body=MessageBody(text="attached"),
            attachments=[Attachment(name=n, content_type=t, sha256=s) for n, t, s in attached],
        )

    carol = mail(
        "carol@example.com",
        ("invoice.html", "text/html", html_sha),
        ("logo.png", "image/png", png_sha),
    )
    dave = mail("dave@example.com", ("logo.png", "image/png", png_sha))
    await route_batch(runtime.ctx, [Incoming("ev-carol", carol), Incoming("ev-dave", dave)])
    supervisor = {"X-API-Key": keys[Role.SUPERVISOR]}
    found = await client.post(
        "/contacts/resolve",
        json={"kind": "email", "value": "carol@example.com"},
        headers=supervisor,
    )
    erased = await client.delete(f"/contacts/{found.json()['contact_id']}", headers=supervisor)
    assert erased.status_code == 200
    report = {r["store"]: (r["checked"], r["erased"]) for r in erased.json()["stores"]}
    assert report["router.blobs"] == (1, 1)  # the invoice; the logo is dave's too
    assert not blobs.exists(html_sha) and blobs.exists(png_sha)
