"""Erasure in email_ingest on a real SQLite file and blob folder: alice gone, bob kept."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from libs.common.privacy.erasure import WrongHashKey, erasure_request
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from services.email_ingest.erasure import EmailIngestEraser
from services.email_ingest.pipeline import Outcome
from tests.unit.email_ingest.privacy_helpers import (
    HASHER,
    LOGO,
    Desk,
    customer_mail,
    files_with,
    scan,
)

ALICE = ["alice.kim@example.co.kr", "Alice Kim", "my passport number is M1234"]
BOB = ["bob.lee@example.com", "Bob Lee", "where is my deposit"]


def _forget(address: str, hasher: IdentifierHasher = HASHER, at: datetime | None = None):
    return erasure_request(
        hasher, identifiers=[(IdentifierKind.EMAIL, address)], contact_id=None,
        requested_by="cli", erased_at=at or datetime.now(UTC),
    )  # fmt: skip


async def _desk(tmp_path) -> Desk:
    desk = Desk(tmp_path)
    alice = customer_mail(1, name=ALICE[1], address=ALICE[0].upper(), text=ALICE[2],
                          attachment=b"alice id photo")  # fmt: skip
    bob = customer_mail(2, name=BOB[1], address=BOB[0], text=BOB[2])
    assert (await desk.handle(alice)).outcome is Outcome.PUBLISHED
    assert (await desk.handle(bob)).outcome is Outcome.PUBLISHED
    # alice again, quarantined this time (too big for the limit of the moment)
    second = customer_mail(3, name=ALICE[1], address=ALICE[0], text=ALICE[2] + " (again)")
    assert (await desk.handle(second, max_bytes=100)).outcome is Outcome.QUARANTINED
    return desk


async def test_forgetting_alice_leaves_no_trace_of_her_and_bob_untouched(tmp_path):
    desk = await _desk(tmp_path)
    before = scan(tmp_path, ALICE)
    assert before["email_ingest blob files"][1] >= 2  # the scan does see her
    eraser = EmailIngestEraser(checkpoints=desk.checkpoints, blobs=desk.blobs, hasher=HASHER)

    reports = {r.store: r for r in await eraser.erase(_forget("Alice.Kim@example.co.kr"))}
    assert reports["email_ingest.handled_message"].erased == 2
    assert reports["email_ingest.quarantined_mail"].erased == 1
    assert reports["email_ingest.blobs"].erased == 3  # her raw mail, her id photo, quarantined raw
    assert "1 kept" in reports["email_ingest.blobs"].note  # the logo bob's mail shares

    after = scan(tmp_path, ALICE)
    assert all(found == 0 for _checked, found in after.values()), after
    assert files_with(tmp_path, BOB) >= 1  # bob's raw mail is still there
    assert desk.blobs.exists(hashlib.sha256(LOGO).hexdigest())
    rows = await desk.checkpoints.query("SELECT outcome, sender_hash FROM handled_message")
    assert sorted(r[0] for r in rows) == ["erased", "erased", "published"]
    # An erased mail met again (a resync) is still known: not published a second time.
    again = customer_mail(1, name=ALICE[1], address=ALICE[0], text=ALICE[2],
                          attachment=b"alice id photo")  # fmt: skip
    assert (await desk.handle(again)).outcome is Outcome.DUPLICATE

    second = await eraser.erase(_forget("alice.kim@example.co.kr"))
    assert sum(r.erased for r in second) == 0
    assert files_with(tmp_path, BOB) >= 1


async def test_a_request_hashed_under_another_key_is_refused_and_erases_nothing(tmp_path):
    desk = await _desk(tmp_path)
    eraser = EmailIngestEraser(checkpoints=desk.checkpoints, blobs=desk.blobs, hasher=HASHER)
    other = IdentifierHasher(b"another-deployment-key-0123456789abc")
    with pytest.raises(WrongHashKey):
        await eraser.erase(_forget(ALICE[0], other))
    assert files_with(tmp_path, ALICE) >= 2


async def test_a_customer_who_writes_again_after_being_forgotten_starts_anew(tmp_path):
    desk = await _desk(tmp_path)
    eraser = EmailIngestEraser(checkpoints=desk.checkpoints, blobs=desk.blobs, hasher=HASHER)
    # An old request (delivered again, or re-read after a restore) reaches only older mail.
    last_month = datetime.now(UTC) - timedelta(days=30)
    reports = await eraser.erase(_forget(ALICE[0], at=last_month))
    assert sum(r.erased for r in reports) == 0
    assert files_with(tmp_path, ALICE) >= 2
