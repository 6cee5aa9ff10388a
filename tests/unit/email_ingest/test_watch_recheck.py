"""The watcher looks again (NOOP, then UID SEARCH) after a look that found mail,
and goes back to IDLE after ``QUIET_LOOKS_BEFORE_IDLE`` looks that found none
(``EMAIL_INGEST_RECHECK_S``; 0: IDLE after every look)."""

from __future__ import annotations

import asyncio

import pytest

from services.email_ingest.checkpoint import Checkpoint
from services.email_ingest.imap.session import Timeouts
from services.email_ingest.mailboxes import MailboxConfig
from services.email_ingest.watcher import QUIET_LOOKS_BEFORE_IDLE, FolderWatcher, WatchTiming

MAILBOX = MailboxConfig(id="m", host="imap.example.com", username="u", password="p")


class ScriptedSession:
    """Records what the watcher asks of the server between its looks."""

    def __init__(self) -> None:
        self.lost = asyncio.Event()
        self.calls: list[str] = []

    def take_arrival_notice(self) -> bool:
        return False

    def has_capability(self, name: str) -> bool:
        return name == "IDLE"

    async def noop(self) -> None:
        self.calls.append("NOOP")

    async def wait_for_change(self, max_wait_s: float, stop: asyncio.Event) -> None:
        self.calls.append("IDLE")


def _watcher(recheck_s: float, stop: asyncio.Event) -> FolderWatcher:
    timing = WatchTiming(
        timeouts=Timeouts(connect_s=1, command_s=1), use_idle=True, idle_renew_s=300,
        poll_interval_s=30, recheck_s=recheck_s, fetch_batch=25,
        reconnect_initial_s=1, reconnect_max_s=1,
    )  # fmt: skip
    return FolderWatcher(
        MAILBOX, "INBOX", context=None, pipeline=None, checkpoints=None,  # type: ignore[arg-type]
        timing=timing, stop=stop,
    )  # fmt: skip


LOOKS = [True, True, False, True, *[False] * QUIET_LOOKS_BEFORE_IDLE, True, False]


@pytest.mark.parametrize(
    ("recheck_s", "expected"),
    [
        (
            0.001,
            ["look+", "NOOP", "look+", "NOOP", "look-", "NOOP", "look+", "NOOP"]
            + ["look-", "NOOP"] * (QUIET_LOOKS_BEFORE_IDLE - 1)
            + ["look-", "IDLE", "look+", "NOOP", "look-"],
        ),
        (0, [f"look{'+' if found else '-'}" for found in LOOKS]),
    ],
)
async def test_looks_that_find_mail_are_followed_by_more_then_idle(recheck_s, expected):
    stop = asyncio.Event()
    watcher = _watcher(recheck_s, stop)
    session = ScriptedSession()
    found = list(LOOKS)

    async def look(_session, _uidvalidity: int, last_uid: int) -> int:
        session.calls.append("look+" if found[0] else "look-")
        if len(found) == 1:
            stop.set()
        return last_uid + 1 if found.pop(0) else last_uid

    watcher._catch_up = look  # type: ignore[method-assign]
    await asyncio.wait_for(watcher._watch(session, Checkpoint(1, 0)), 5)  # type: ignore[arg-type]
    if recheck_s == 0:  # IDLE after every look
        expected = [call for look_call in expected for call in (look_call, "IDLE")][:-1]
    assert session.calls == expected
