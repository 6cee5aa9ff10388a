"""A small content-addressed blob store: a local folder, sha256 names.

Ingest services keep bytes that must not travel on Kafka here — mail
attachments, quarantined raw mail — and put only the sha256 in events and
dead letters. The same bytes always land under the same name, so writing
twice is harmless and a blob, once written, never changes. Blobs leave only
by erasure or retention (``delete``, ``older_than``): which blob belongs to
which mail or contact is the writer's record (one blob may serve several
mails, e.g. a logo), so the writer decides when the last reference is gone.

Layout: ``<root>/<first two hex digits>/<sha256>``, so no folder grows huge.
Writes go to a temporary file in the same folder, are fsynced, then renamed,
so a reader never sees half a blob and a crash leaves no partial one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(KeyError):
    """No blob with that sha256 in the store."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    sha256: str
    size: int
    stored_at: datetime


@dataclass(slots=True)
class DeleteReport:
    """What a delete found: removed files (and their bytes), names already absent."""

    removed: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    bytes_removed: int = 0


class BlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256_HEX.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data``; return its sha256. Idempotent."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            # Written again: a new reference. The fresh mtime keeps retention from
            # taking it before the writer has recorded that reference.
            with contextlib.suppress(FileNotFoundError):
                os.utime(target)
                return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self.path_for(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def delete(self, sha256s: Iterable[str]) -> DeleteReport:
        """Remove these blobs; a name already gone is reported, not an error."""
        report = DeleteReport()
        for digest in dict.fromkeys(sha256s):
            path = self.path_for(digest)
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                report.absent.append(digest)
                continue
            report.removed.append(digest)
            report.bytes_removed += size
        return report

    def blobs(self) -> Iterator[BlobInfo]:
        """Every blob, with its size and when it was last written (file mtime, UTC)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for path in sorted(folder.iterdir()):
                if not _SHA256_HEX.match(path.name):
                    continue  # a .tmp- file of a write in progress
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                    stat = path.stat()
                    yield BlobInfo(
                        path.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)
                    )

    def older_than(self, cutoff: datetime) -> list[BlobInfo]:
        """Blobs written before ``cutoff`` (retention candidates)."""
        return [blob for blob in self.blobs() if blob.stored_at < cutoff]

    async def delete_async(self, sha256s: Iterable[str]) -> DeleteReport:
        names = list(sha256s)
        return await asyncio.to_thread(self.delete, names)

    async def older_than_async(self, cutoff: datetime) -> list[BlobInfo]:
        return await asyncio.to_thread(self.older_than, cutoff)

    async def put_async(self, data: bytes) -> str:
        """``put`` off the event loop (it fsyncs)."""
        return await asyncio.to_thread(self.put, data)

    async def put_many_async(self, blobs: list[bytes]) -> list[str]:
        return await asyncio.to_thread(lambda: [self.put(b) for b in blobs])
