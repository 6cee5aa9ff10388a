from __future__ import annotations

from services.email_ingest.checkpoint import Checkpoint, CheckpointStore


async def test_checkpoint_survives_reopen_and_records_atomically(tmp_path):
    store = CheckpointStore(tmp_path / "cp.sqlite3")
    store.open()
    assert await store.load("mb", "INBOX") is None
    await store.reset("mb", "INBOX", 111, 0)
    await store.record(
        mailbox="mb", folder="INBOX", uidvalidity=111, uid=5, message_key="e1",
        outcome="published", post_action_pending=True,
    )  # fmt: skip
    store.close()

    store = CheckpointStore(tmp_path / "cp.sqlite3")
    store.open()
    assert await store.load("mb", "INBOX") == Checkpoint(111, 5)
    assert await store.handled("mb", "e1")
    assert not await store.handled("other", "e1")
    (pending,) = await store.pending_post_actions("mb", "INBOX", 111)
    assert (pending.uid, pending.message_key, pending.outcome) == (5, "e1", "published")
    await store.post_actions_done("mb", ["e1"])
    assert await store.pending_post_actions("mb", "INBOX", 111) == []
    store.close()


async def test_uid_never_goes_back_and_resets_start_over(tmp_path):
    store = CheckpointStore(tmp_path / "cp.sqlite3")
    store.open()
    await store.reset("mb", "INBOX", 1, 0)
    await store.advance("mb", "INBOX", 1, 9)
    await store.advance("mb", "INBOX", 1, 4)
    assert await store.load("mb", "INBOX") == Checkpoint(1, 9)
    await store.advance("mb", "INBOX", 2, 50)  # another UIDVALIDITY: not this checkpoint
    assert await store.load("mb", "INBOX") == Checkpoint(1, 9)
    await store.reset("mb", "INBOX", 2, 0)
    assert await store.load("mb", "INBOX") == Checkpoint(2, 0)
    store.close()


async def test_fingerprints_are_kept_with_handled_messages(tmp_path):
    store = CheckpointStore(tmp_path / "cp.sqlite3")
    store.open()
    await store.reset("mb", "INBOX", 1, 0)
    assert await store.fingerprint_of("mb", "e1") is None
    await store.record(
        mailbox="mb", folder="INBOX", uidvalidity=1, uid=3, message_key="e1",
        outcome="published", post_action_pending=False, fingerprint="abc",
    )  # fmt: skip
    assert await store.fingerprint_of("mb", "e1") == "abc"
    store.close()


async def test_a_file_of_the_earlier_schema_is_migrated_and_keeps_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "cp.sqlite3"
    with sqlite3.connect(path) as old:  # the schema before issue #18
        old.executescript(
            "CREATE TABLE handled_message (mailbox TEXT NOT NULL, message_key TEXT NOT NULL,"
            " folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,"
            " outcome TEXT NOT NULL, post_action_pending INTEGER NOT NULL,"
            " handled_at TEXT NOT NULL, fingerprint TEXT, PRIMARY KEY (mailbox, message_key));"
            "INSERT INTO handled_message VALUES ('mb','e0','INBOX',1,1,'published',0,"
            " '2025-01-01T00:00:00+00:00','f0');"
        )
    for _ in range(2):  # opening twice migrates once
        store = CheckpointStore(path)
        store.open()
        assert await store.handled("mb", "e0")
        rows = await store.query("SELECT sender_hash FROM handled_message")
        assert rows == [(None,)]
        assert await store.query("PRAGMA user_version") == [(1,)]
        assert await store.query("SELECT COUNT(*) FROM quarantined_mail") == [(0,)]
        store.close()
