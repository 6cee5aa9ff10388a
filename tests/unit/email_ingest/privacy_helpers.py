"""Mail handled through the real pipeline, SQLite file and blob folder, with a
plain fake producer (unit tests only), plus a scan for personal data."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from libs.common.blobstore import BlobStore
from libs.common.cloudevents import CloudEvent
from libs.common.privacy.identifiers import IdentifierHasher
from libs.common.settings import TopicSettings
from services.email_ingest.checkpoint import CheckpointStore
from services.email_ingest.imap.fetch import FetchedMessage
from services.email_ingest.mailboxes import MailboxConfig
from services.email_ingest.normalise import MailContext
from services.email_ingest.pipeline import HandledMail, MailPipeline

HASH_KEY = "unit-test-privacy-hash-key-0123456789"
HASHER = IdentifierHasher(HASH_KEY.encode())
LOGO = b"\x89PNG shared company logo bytes"


def customer_mail(
    number: int, *, name: str, address: str, text: str, attachment: bytes | None = None
) -> bytes:
    message = EmailMessage()
    message["From"] = f"{name} <{address}>"
    message["To"] = "support@desk.example"
    message["Subject"] = f"Withdrawal question {number}"
    message["Message-ID"] = f"<q{number}@customer.example>"
    message.set_content(text)
    if attachment is not None:
        message.add_attachment(attachment, maintype="image", subtype="png", filename="id.png")
    message.add_attachment(LOGO, maintype="image", subtype="png", filename="logo.png")
    return message.as_bytes(policy=SMTP)


class FakeProducer:
    def __init__(self) -> None:
        self.published: list[CloudEvent] = []
        self.sent: list[tuple[str, bytes | None]] = []

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
        self.published.append(event)

    async def send(self, topic: str, value: bytes | None, *, key: object, headers: list) -> None:
        self.sent.append((topic, value))


@dataclass
class Desk:
    """email_ingest's state on a real folder."""

    root: Path
    checkpoints: CheckpointStore = field(init=False)
    blobs: BlobStore = field(init=False)
    producer: FakeProducer = field(default_factory=FakeProducer)
    uid: int = 0

    def __post_init__(self) -> None:
        self.checkpoints = CheckpointStore(self.root / "checkpoints.sqlite3")
        self.checkpoints.open()
        self.blobs = BlobStore(self.root / "blobs")

    def pipeline(self) -> MailPipeline:
        return MailPipeline(
            producer=self.producer,  # type: ignore[arg-type]
            blobs=self.blobs,
            checkpoints=self.checkpoints,
            topics=TopicSettings(),
            deadletter_inline_max_bytes=0,
            hasher=HASHER,
        )

    async def handle(self, raw: bytes, *, max_bytes: int = 10_000_000) -> HandledMail:
        self.uid += 1
        mailbox = MailboxConfig(id="kr", host="127.0.0.1", username="u", password="p")
        context = MailContext(mailbox_id="kr", max_message_bytes=max_bytes)
        return await self.pipeline().handle(
            mailbox, context, folder="INBOX", uidvalidity=1, message=FetchedMessage(self.uid, raw)
        )


def scan(root: Path, needles: list[str]) -> dict[str, tuple[int, int]]:
    """Per store: (rows or files checked, rows or files holding any needle).

    Every column of every table of every SQLite file under ``root`` (as text),
    and every byte of every file under it: blobs, the database and its WAL.
    Case-insensitive. Safe while a service in this process has the database open
    (the files' bytes are read by another process: ``_files_holding``)."""
    lowered = [n.lower() for n in needles]
    found: dict[str, tuple[int, int]] = {}
    for database in sorted(root.rglob("*.sqlite3")):
        with contextlib.closing(sqlite3.connect(database)) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                rows = db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
                hits = sum(any(n in str(v).lower() for v in row for n in lowered) for row in rows)
                found[f"email_ingest sqlite {table}"] = (len(rows), hits)
    files = [p for p in root.rglob("*") if p.is_file()]
    holding = dict(zip(files, _files_holding(files, lowered), strict=True))
    blob_files = [p for p in files if p.parent.parent.name == "blobs"]
    other = [p for p in files if p not in blob_files]
    for name, group in (
        ("email_ingest blob files", blob_files),
        ("email_ingest db/wal files", other),
    ):
        found[name] = (len(group), sum(holding[p] for p in group))
    return found


#: Run by ``_files_holding`` in a child process: paths and lowered needles on stdin.
_FILES_HOLDING = """
import json, sys
paths, needles = json.load(sys.stdin)
found = []
for path in paths:
    with open(path, "rb") as file:
        data = file.read().lower()
    found.append(any(n.encode() in data for n in needles))
json.dump(found, sys.stdout)
"""


def _files_holding(paths: list[Path], lowered: list[str]) -> list[bool]:
    """Whether each file's bytes hold any needle, read in a child process.

    Closing a file descriptor drops every POSIX lock this process holds on that
    file, SQLite's included (sqlite.org/howtocorrupt.html §2.2). Read here, the
    database and its ``-shm`` lost the locks of the service running in this
    process; ``omnidesk privacy forget`` (another process) then took itself for
    the only user: it truncated the ``-shm`` the service had mapped (a SIGBUS in
    ``CheckpointStore._in_transaction`` in CI) and, closing, deleted the WAL."""
    if not paths:
        return []
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _FILES_HOLDING],
        input=json.dumps([[str(p) for p in paths], lowered]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scanning {len(paths)} files failed: {result.stderr.strip()}")
    return [bool(hit) for hit in json.loads(result.stdout)]


def files_with(root: Path, needles: list[str]) -> int:
    """How many files under ``root`` hold any needle (blobs or database files)."""
    found = scan(root, needles)
    return found["email_ingest blob files"][1] + found["email_ingest db/wal files"][1]
