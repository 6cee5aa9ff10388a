from __future__ import annotations

import pytest

from services.email_ingest.imap.session import ImapError
from services.email_ingest.mailboxes import MailboxConfig, PostAction
from services.email_ingest.pipeline import Outcome, needs_post_action
from services.email_ingest.watcher import Backoff, PostStep, _post_action_for, give_up_on

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


def test_an_unfetchable_uid_is_retried_then_given_up():
    failures: dict[int, int] = {}
    for _ in range(2):
        with pytest.raises(ImapError):
            give_up_on([7], failures, limit=3)
    assert give_up_on([7], failures, limit=3) == [7]
    assert failures == {}


def test_no_missing_uids_nothing_to_give_up():
    assert give_up_on([], {}, limit=3) == []


def test_post_steps_are_equal_for_mails_that_take_the_same_step():
    """Equal steps share one IMAP command (one UID STORE for a batch's flags)."""
    flag = MailboxConfig(**BASE, post_action="flag", quarantine_folder="Quarantine")
    move = MailboxConfig(**BASE, post_action="move", move_to="Done")
    delete = MailboxConfig(**BASE, post_action="delete")
    keep = MailboxConfig(**BASE)
    assert _post_action_for(flag, Outcome.PUBLISHED) == PostStep(PostAction.FLAG, flag.flag)
    assert _post_action_for(flag, Outcome.DUPLICATE) == _post_action_for(flag, Outcome.PUBLISHED)
    assert _post_action_for(flag, Outcome.QUARANTINED) == PostStep(PostAction.MOVE, "Quarantine")
    assert _post_action_for(move, Outcome.PUBLISHED) == PostStep(PostAction.MOVE, "Done")
    assert _post_action_for(delete, Outcome.PUBLISHED) == PostStep(PostAction.DELETE)
    assert _post_action_for(keep, Outcome.PUBLISHED) is None
    assert _post_action_for(keep, Outcome.QUARANTINED) is None
