"""Mail handled before issue #18 (no hash, no blob references) becomes erasable."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.common.privacy.erasure import erasure_request
from libs.common.privacy.identifiers import IdentifierKind
from services.email_ingest.backfill import backfill
from services.email_ingest.erasure import EmailIngestEraser
from services.email_ingest.quarantine import list_quarantined
from tests.unit.email_ingest.privacy_helpers import HASHER, Desk, customer_mail, files_with, scan


async def _as_before_issue_18(desk: Desk) -> None:
    await desk.checkpoints.query("UPDATE handled_message SET sender_hash=NULL")
    await desk.checkpoints.query("DELETE FROM mail_blob")
    await desk.checkpoints.query("DELETE FROM quarantined_mail")


async def test_old_rows_get_hashes_references_and_quarantine_entries(tmp_path):
    desk = Desk(tmp_path)
    await desk.handle(customer_mail(1, name="Alice Kim", address="alice@example.com",
                                    text="my account", attachment=b"alice id"))  # fmt: skip
    await desk.handle(customer_mail(2, name="Bob Lee", address="bob@example.com", text="hi"))
    await desk.handle(customer_mail(3, name="Alice Kim", address="alice@example.com",
                                    text="again"), max_bytes=100)  # fmt: skip
    await _as_before_issue_18(desk)

    report = await backfill(desk.checkpoints, desk.blobs, HASHER, ["kr"])
    assert (report.handled_rows, report.quarantine_entries) == (3, 1)
    assert report.rows_still_without_hash == 0
    (entry,) = await list_quarantined(desk.checkpoints)
    # Its reason then (a limit since raised) is not kept; today's normaliser reads it.
    assert (entry.mailbox, entry.folder, entry.uid, entry.reason) == ("kr", "INBOX", 3, "unknown")
    again = await backfill(desk.checkpoints, desk.blobs, HASHER, ["kr"])
    assert (again.blobs_read, again.handled_rows) == (0, 0)

    eraser = EmailIngestEraser(checkpoints=desk.checkpoints, blobs=desk.blobs, hasher=HASHER)
    request = erasure_request(HASHER, identifiers=[(IdentifierKind.EMAIL, "alice@example.com")],
                              contact_id=None, requested_by="cli",
                              erased_at=datetime.now(UTC))  # fmt: skip
    await eraser.erase(request)
    found = scan(tmp_path, ["alice@example.com", "Alice Kim", "alice id"])
    assert all(hits == 0 for _checked, hits in found.values()), found
    assert files_with(tmp_path, ["bob@example.com"]) == 1
