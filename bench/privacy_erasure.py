"""email_ingest erasure and retention on a store of realistic size.

Fills a real SQLite checkpoint file and blob folder with ``--mails`` handled
mails (raw mail + one attachment each, plus a logo every mail shares) from
``--senders`` customers, the way the pipeline records them, then times:
erasing one customer, erasing them again (nothing left), a retention pass
with nothing old, and a retention pass that removes everything. Not a
target from architecture §8; a figure to know how long `privacy forget` holds the
store's write lock.

    python -m bench.privacy_erasure [--mails 20000] [--senders 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import write_result
from libs.common.blobstore import BlobStore
from libs.common.privacy.erasure import erasure_request
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from services.email_ingest.checkpoint import CheckpointStore
from services.email_ingest.erasure import EmailIngestEraser
from services.email_ingest.retention import RetentionPolicy, prune

HASHER = IdentifierHasher(b"bench-privacy-hash-key-0123456789abcdef")
LOGO = b"\x89PNG logo " * 200


async def fill(checkpoints: CheckpointStore, blobs: BlobStore, mails: int, senders: int) -> None:
    await checkpoints.reset("bench", "INBOX", 1, 0)
    logo = blobs.put(LOGO)
    for n in range(mails):
        address = f"customer{n % senders}@example.com"
        raw = blobs.put(f"From: {address}\r\nSubject: q{n}\r\n\r\n{'text ' * 200}".encode())
        attachment = blobs.put(f"scan of document {n} ".encode() * 100)
        await checkpoints.record(
            mailbox="bench", folder="INBOX", uidvalidity=1, uid=n + 1,
            message_key=hashlib.sha256(raw.encode()).hexdigest()[:32], outcome="published",
            post_action_pending=False, fingerprint=raw[:32], sender_hash=HASHER.email(address),
            blobs=[(raw, "raw"), (attachment, "attachment"), (logo, "attachment")],
        )  # fmt: skip


async def timed(work) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = await work
    return (time.perf_counter() - started) * 1000, result


async def run(mails: int, senders: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        checkpoints = CheckpointStore(root / "checkpoints.sqlite3")
        checkpoints.open()
        blobs = BlobStore(root / "blobs")
        fill_ms, _ = await timed(fill(checkpoints, blobs, mails, senders))
        eraser = EmailIngestEraser(checkpoints=checkpoints, blobs=blobs, hasher=HASHER)
        request = erasure_request(
            HASHER, identifiers=[(IdentifierKind.EMAIL, "customer7@example.com")],
            contact_id=None, requested_by="bench", erased_at=datetime.now(UTC),
        )  # fmt: skip
        erase_ms, reports = await timed(eraser.erase(request))
        again_ms, _ = await timed(eraser.erase(request))
        policy = RetentionPolicy(handled_days=365, blob_days=365)
        now = datetime.now(UTC)
        idle_ms, _ = await timed(prune(checkpoints, blobs, policy, now=now))
        full_ms, pruned = await timed(
            prune(checkpoints, blobs, policy, now=now + timedelta(days=400))
        )
        checkpoints.close()
    return {
        "mails": mails,
        "senders": senders,
        "blob_files": mails * 2 + 1,
        "fill_ms": round(fill_ms),
        "erase_one_customer_ms": round(erase_ms, 1),
        "erased": {r.store: r.erased for r in reports},  # type: ignore[attr-defined]
        "erase_again_ms": round(again_ms, 1),
        "retention_pass_nothing_old_ms": round(idle_ms, 1),
        "retention_pass_everything_old_ms": round(full_ms, 1),
        "pruned": {r.store: r.erased for r in pruned},  # type: ignore[attr-defined]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=2_000)
    args = parser.parse_args()
    write_result("privacy_erasure", asyncio.run(run(args.mails, args.senders)))


if __name__ == "__main__":
    main()
