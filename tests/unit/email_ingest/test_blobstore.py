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


def test_delete_reports_what_it_removed_and_is_idempotent(tmp_path):
    store = BlobStore(tmp_path)
    kept = store.put(b"bob's mail")
    doomed = store.put(b"alice's mail")
    first = store.delete([doomed, doomed])
    assert first.removed == [doomed] and first.absent == []
    assert first.bytes_removed == len(b"alice's mail")
    assert not store.exists(doomed) and store.exists(kept)
    second = store.delete([doomed])
    assert second.removed == [] and second.absent == [doomed] and second.bytes_removed == 0
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [kept]


async def test_listing_by_age_on_a_real_folder(tmp_path):
    import os
    from datetime import UTC, datetime, timedelta

    store = BlobStore(tmp_path)
    old = store.put(b"old raw mail")
    new = store.put(b"new raw mail")
    long_ago = datetime.now(UTC) - timedelta(days=400)
    os.utime(store.path_for(old), (long_ago.timestamp(), long_ago.timestamp()))
    (tmp_path / old[:2] / ".tmp-half-written").write_bytes(b"x")  # never listed
    cutoff = datetime.now(UTC) - timedelta(days=365)
    listed = await store.older_than_async(cutoff)
    assert [b.sha256 for b in listed] == [old]
    assert listed[0].size == len(b"old raw mail")
    assert {b.sha256 for b in store.blobs()} == {old, new}
    # Writing the same bytes again is a new reference: it is young again.
    store.put(b"old raw mail")
    assert store.older_than(cutoff) == []
    assert (await store.delete_async([old])).removed == [old]


def test_an_empty_or_missing_root_lists_nothing(tmp_path):
    assert list(BlobStore(tmp_path / "nothing-here").blobs()) == []
