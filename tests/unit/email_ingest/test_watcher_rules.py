from __future__ import annotations

from services.email_ingest.mailboxes import MailboxConfig
from services.email_ingest.pipeline import Outcome, needs_post_action
from services.email_ingest.watcher import Backoff

BASE = {"id": "m", "host": "imap.example.com", "username": "u", "password": "p"}


def test_backoff_grows_with_jitter_up_to_the_cap_and_resets():
    backoff = Backoff(1.0, 8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_post_action_only_when_there_is_something_to_do():
    keep = MailboxConfig(**BASE)
    flag = MailboxConfig(**BASE, post_action="flag")
    quarantine = MailboxConfig(**BASE, quarantine_folder="Quarantine")
    assert not needs_post_action(keep, Outcome.PUBLISHED)
    assert needs_post_action(flag, Outcome.PUBLISHED)
    assert needs_post_action(flag, Outcome.DUPLICATE)
    assert not needs_post_action(flag, Outcome.QUARANTINED)  # left where it is, unflagged
    assert needs_post_action(quarantine, Outcome.QUARANTINED)
