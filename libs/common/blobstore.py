"""A small content-addressed blob store: a local folder, sha256 names, write-once.

Ingest services keep bytes that must not travel on Kafka here — mail
attachments, quarantined raw mail — and put only the sha256 in events and
dead letters. The same bytes always land under the same name, so writing
twice is harmless and a blob, once written, never changes.

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
from pathlib import Path

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(KeyError):
    """No blob with that sha256 in the store."""


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

    async def put_async(self, data: bytes) -> str:
        """``put`` off the event loop (it fsyncs)."""
        return await asyncio.to_thread(self.put, data)

    async def put_many_async(self, blobs: list[bytes]) -> list[str]:
        return await asyncio.to_thread(lambda: [self.put(b) for b in blobs])
