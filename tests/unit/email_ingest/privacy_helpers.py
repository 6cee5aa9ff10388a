"""Mail handled through the real pipeline, SQLite file and blob folder, with a
plain fake producer (unit tests only), plus a scan for personal data."""

from __future__ import annotations

import sqlite3
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
    Case-insensitive."""
    lowered = [n.lower() for n in needles]
    found: dict[str, tuple[int, int]] = {}
    for database in sorted(root.rglob("*.sqlite3")):
        with sqlite3.connect(database) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                rows = db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
                hits = sum(any(n in str(v).lower() for v in row for n in lowered) for row in rows)
                found[f"email_ingest sqlite {table}"] = (len(rows), hits)
    files = [p for p in root.rglob("*") if p.is_file()]
    blob_files = [p for p in files if p.parent.parent.name == "blobs"]
    other = [p for p in files if p not in blob_files]
    for name, group in (
        ("email_ingest blob files", blob_files),
        ("email_ingest db/wal files", other),
    ):
        hits = sum(any(n.encode() in p.read_bytes().lower() for n in lowered) for p in group)
        found[name] = (len(group), hits)
    return found


def files_with(root: Path, needles: list[str]) -> int:
    """How many files under ``root`` hold any needle (blobs or database files)."""
    found = scan(root, needles)
    return found["email_ingest blob files"][1] + found["email_ingest db/wal files"][1]
