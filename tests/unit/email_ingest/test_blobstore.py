from __future__ import annotations

import hashlib

import pytest

from libs.common.blobstore import BlobNotFound, BlobStore


async def test_put_is_content_addressed_and_idempotent(tmp_path):
    store = BlobStore(tmp_path)
    digest = store.put(b"raw mail")
    assert digest == hashlib.sha256(b"raw mail").hexdigest()
    assert store.path_for(digest) == tmp_path / digest[:2] / digest
    assert await store.put_async(b"raw mail") == digest
    assert store.get(digest) == b"raw mail"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]


def test_missing_and_malformed_names(tmp_path):
    store = BlobStore(tmp_path)
    with pytest.raises(BlobNotFound):
        store.get("0" * 64)
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")
