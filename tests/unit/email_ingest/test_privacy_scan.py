"""The tests' personal-data scan leaves a live checkpoint database's locks alone.

Reading the database's files in the process that has it open (and closing them)
dropped that process's POSIX locks: another process then took itself for the
database's only user, truncated the ``-shm`` under the live mapping (SIGBUS) and
deleted the WAL (sqlite.org/howtocorrupt.html §2.2). A second process's view of
the locks is the check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.email_ingest.privacy_helpers import Desk, customer_mail, scan

#: SQLite's unix VFS: the -shm's "dead man switch" byte (readers hold it shared, the
#: first to open it exclusively truncates the file) and the database file's shared
#: range (a WAL-mode connection holds part of it for as long as it is open).
_SHM_DMS = (128, 1)
_DB_SHARED = (0x40000002, 510)

_PROBE = """
import fcntl, os, sys
path, start, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
except OSError:
    print("held")
else:
    print("free")
"""


def _held_elsewhere(path: Path, span: tuple[int, int]) -> bool:
    """Whether another process is refused an exclusive lock on ``span`` of ``path``."""
    start, length = span
    probe = [sys.executable, "-I", "-S", "-c", _PROBE, str(path), str(start), str(length)]
    answer = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=30)
    return answer.stdout.strip() == "held"


async def test_scanning_keeps_this_process_locks_on_an_open_database(tmp_path):
    desk = Desk(tmp_path)
    try:
        mail = customer_mail(1, name="Bob Lee", address="bob@example.com", text="hi")
        key = (await desk.handle(mail)).message_key
        database = desk.checkpoints.path
        shm = database.with_name(database.name + "-shm")
        assert _held_elsewhere(shm, _SHM_DMS) and _held_elsewhere(database, _DB_SHARED)

        found = scan(tmp_path, [key])

        assert found["email_ingest db/wal files"][1] >= 1  # the scan still reads the files
        assert _held_elsewhere(shm, _SHM_DMS), "the scan dropped the -shm lock"
        assert _held_elsewhere(database, _DB_SHARED), "the scan dropped the database lock"
        await desk.handle(customer_mail(2, name="Bob Lee", address="bob@example.com", text="x"))
    finally:
        desk.checkpoints.close()
