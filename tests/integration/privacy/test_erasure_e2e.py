"""The whole chain on SQLite AND PostgreSQL: a mail with an attachment through the
real email_ingest pipeline (SQLite state, blob folder), a chat and a call, all
routed by the router; a sent-log row of the notifier; then ``privacy forget
--email`` asks the router first, which erases and publishes, and the local
stores erase with every hash the router returned (the phone and handle the
operator did not name). Every table, file and API answer is scanned after."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from libs.common.privacy.erasure import erasure_request
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from libs.common.settings import TopicSettings
from services.email_ingest.erasure import EmailIngestEraser
from services.email_ingest.pipeline import MailPipeline
from services.notifier.privacy import NotifierEraser
from services.notifier.sentlog import SendInfo, SendKey, SentLog
from services.router.service.api_keys import Role
from services.router.service.interactions import Incoming, route_batch
from tests.integration.privacy.helpers import HASH_KEY, table, write_artifact
from tests.integration.privacy.test_router_erasure import (
    EMAIL,
    NAME,
    PHONE,
    interactions,
    router,
    scan_database,
)
from tests.integration.router.conftest import clock, database_url, postgres_server, router_settings
from tests.unit.email_ingest.privacy_helpers import Desk, customer_mail
from tests.unit.email_ingest.privacy_helpers import scan as scan_email_state
from tools.privacy.forget import forget, render
from tools.privacy.router_eraser import RouterEraser

__all__ = ["clock", "database_url", "postgres_server", "router", "router_settings"]
pytestmark = pytest.mark.integration

HASHER = IdentifierHasher(HASH_KEY.encode())
MAIL_TEXT = "my passport number is M12345678"
NEEDLES = [EMAIL, PHONE, "998877", NAME, "M12345678", "passport"]


class SharedKeyDesk(Desk):
    """email_ingest's real pipeline under the services' shared PRIVACY_HASH_KEY."""

    def pipeline(self) -> MailPipeline:
        return MailPipeline(
            producer=self.producer,  # type: ignore[arg-type]
            blobs=self.blobs,
            checkpoints=self.checkpoints,
            topics=TopicSettings(),
            deadletter_inline_max_bytes=0,
            hasher=HASHER,
        )


async def test_forget_erases_router_email_ingest_and_notifier(router, clock, tmp_path):
    client, keys, runtime = router
    clock.set(datetime.now(UTC))  # the stores bound erasure by time: one clock for all
    desk = SharedKeyDesk(tmp_path / "email_ingest")
    raw = customer_mail(1, name=NAME, address=EMAIL, text=MAIL_TEXT, attachment=b"passport scan")
    await desk.handle(raw)
    [mail_event] = desk.producer.published
    chat_and_call = interactions(clock)[1:]
    await route_batch(runtime.ctx, [Incoming(mail_event.id, mail_event.data), *chat_and_call])
    await runtime.relay.publish_pending()
    await runtime.relay.mark_published()  # SQLite: not left to the relay's next mark write
    sentlog = SentLog(f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}", hasher=HASHER)
    await sentlog.open()
    key = SendKey("routing-1", EMAIL, "customer_ack")
    await sentlog.claim(key, SendInfo("opened", "c", "email", "ko"), now=clock())
    await sentlog.mark_sent(key, message_id="<ack@desk>", now=clock())

    supervisor = {"X-API-Key": keys[Role.SUPERVISOR]}
    conversations = (await client.get("/conversations", headers=supervisor)).json()["items"]
    before = {
        **await scan_database(runtime.engine),
        **scan_email_state(desk.root, NEEDLES),
    }
    assert sum(hits for _, hits in before.values()) > 0

    identifiers = [(IdentifierKind.EMAIL, EMAIL)]
    request = erasure_request(
        HASHER, identifiers=identifiers, contact_id=None, requested_by="cli", erased_at=clock()
    )
    eraser = RouterEraser(
        "http://router", keys[Role.SUPERVISOR], transport=client.transport_for_tests
    )
    stores = [
        EmailIngestEraser(checkpoints=desk.checkpoints, blobs=desk.blobs, hasher=HASHER),
        NotifierEraser(sentlog, HASHER),
    ]
    report = await forget(
        request, publish=None, erasers=stores, router=eraser, identifiers=identifiers
    )
    forget_output = "\n".join(render(report, topic="support.privacy.v1"))
    print(forget_output)
    assert report.request.tombstone_id == report.router.tombstones[0]
    assert {i.kind for i in report.request.identifiers} == {
        IdentifierKind.EMAIL,
        IdentifierKind.PHONE,
        IdentifierKind.HANDLE,
    }

    after = {
        **await scan_database(runtime.engine),
        **scan_email_state(desk.root, NEEDLES),
        "notifier.sent_log": (await sentlog.count(), 0),
    }
    async with sentlog.engine.connect() as conn:
        from sqlalchemy import text

        rows = (await conn.execute(text("SELECT * FROM notifier_sent_log"))).all()
    hits = sum(any(n.lower() in str(v).lower() for v in r for n in NEEDLES) for r in rows)
    after["notifier.sent_log"] = (len(rows), hits)
    scan_table = table(after, "alice")
    print("\n" + scan_table)
    assert {store: h for store, (_, h) in after.items() if h} == {}
    for conversation in conversations:
        answer = await client.get(f"/conversations/{conversation['id']}", headers=supervisor)
        assert answer.status_code == 200
        assert not any(n.lower() in answer.text.lower() for n in NEEDLES)
    audit = await client.get("/audit", headers=supervisor)
    assert not any(n.lower() in json.dumps(audit.json()).lower() for n in NEEDLES)

    again = await forget(
        request, publish=None, erasers=stores, router=eraser, identifiers=identifiers
    )
    again_output = "\n".join(render(again, topic="support.privacy.v1"))
    print(again_output)
    assert again.erased == 0
    await sentlog.close()
    store = runtime.engine.dialect.name
    trail = (await client.get("/audit", headers=supervisor)).json()["items"]
    write_artifact(
        f"erasure-e2e-{store}.md",
        f"Erasure e2e on {store}: forget --email, scan, audit trail, forget again",
        [
            ("omnidesk privacy forget --email (router asked first)", forget_output),
            ("Scan after erasure (every text column, every file)", scan_table),
            ("GET /audit (trimmed)", "\n".join(json.dumps(trimmed(r)) for r in trail)),
            ("The same request again", again_output),
        ],
    )


def trimmed(row: dict) -> dict:
    """An audit row as the closing note shows it (ids, timestamps and nulls left out)."""
    keep = ("actor", "role", "action", "outcome", "contact", "address", "after")
    return {k: row[k] for k in keep if row.get(k) is not None}
