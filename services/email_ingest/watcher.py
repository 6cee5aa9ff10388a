"""One task per mailbox folder: connect, catch up, wait (IDLE or poll), repeat.

Every failure — refused login, dropped connection, a timeout, Kafka not
acknowledging — ends the session; the watcher reconnects with exponential
backoff and jitter and carries on from the durable checkpoint. It never
raises out of ``run``, so one broken mailbox never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime

from libs.common.events.base import utc_now
from libs.common.kafka.producer import PublishError
from services.email_ingest import metrics
from services.email_ingest.checkpoint import Checkpoint, CheckpointStore
from services.email_ingest.credentials import CredentialError, MailboxCredentials
from services.email_ingest.imap.fetch import FetchedMessage
from services.email_ingest.imap.session import (
    FolderStatus,
    ImapAuthError,
    ImapError,
    ImapSession,
    Timeouts,
)
from services.email_ingest.mailboxes import MailboxConfig, PostAction
from services.email_ingest.normalise import MailContext
from services.email_ingest.oauth2 import GrantRefused
from services.email_ingest.pipeline import HandledMail, MailPipeline, Outcome

log = logging.getLogger(__name__)

#: Sessions in which a still-existing UID may fail to FETCH before it is dead-lettered.
MAX_FETCH_ATTEMPTS = 3
#: Looks that find nothing before the watcher goes back to IDLE (``recheck_s`` apart):
#: with one, a look between two mails of a steady stream that came late found
#: nothing, and the next mail waited out the server's IDLE notice (a p99 of 378-432
#: ms beside 152-159 at 20 mails/s, bench.imap_latency on a loaded machine).
QUIET_LOOKS_BEFORE_IDLE = 5


@dataclass(frozen=True, slots=True)
class WatchTiming:
    timeouts: Timeouts
    use_idle: bool
    idle_renew_s: float
    poll_interval_s: float
    #: After a look that found mail, look again this much later instead of IDLE (0: IDLE).
    recheck_s: float
    fetch_batch: int
    reconnect_initial_s: float
    reconnect_max_s: float


class _LoginRenewal(Exception):
    """The session's OAuth2 token is about to expire: log in again with a fresh one."""


class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog's "full jitter")."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.initial_s * 2**self.attempt)
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class FolderWatcher:
    def __init__(
        self,
        mailbox: MailboxConfig,
        folder: str,
        *,
        context: MailContext,
        pipeline: MailPipeline,
        checkpoints: CheckpointStore,
        timing: WatchTiming,
        stop: asyncio.Event,
        credentials: MailboxCredentials | None = None,
    ) -> None:
        self.mailbox = mailbox
        self._credentials = credentials or MailboxCredentials(mailbox)
        self.folder = folder
        self._context = context
        self._pipeline = pipeline
        self._checkpoints = checkpoints
        self._timing = timing
        self._stop = stop
        self._backoff = Backoff(timing.reconnect_initial_s, timing.reconnect_max_s)
        self._fetch_failures: dict[int, int] = {}
        self.connected = False
        self.sessions = 0  # sessions that reached SELECT; tests and probes read it
        #: Why this folder stopped trying (a refused OAuth2 grant); None while it runs.
        self.failure: GrantRefused | None = None
        self._renew_at: datetime | None = None  # OAuth2: log in again from then on

    @property
    def name(self) -> str:
        return f"{self.mailbox.id}/{self.folder}"

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._session()
            except GrantRefused as exc:
                await self._stopped_until_credentials_change(exc)
                continue
            except _LoginRenewal:
                self._set_connected(False)
                log.info("%s: OAuth2 token due for renewal; logging in again", self.name)
                continue
            except ImapAuthError as exc:
                log.error("%s: login refused: %s", self.name, exc)
            except (ImapError, PublishError, CredentialError, OSError) as exc:
                log.warning("%s: session ended: %s", self.name, exc)
            except Exception:  # a bug must not stop this mailbox for good: log it and retry
                log.exception("%s: unexpected error; reconnecting", self.name)
            finally:
                self._set_connected(False)
            if self._stop.is_set():
                break
            metrics.CONNECTION_FAILURES.labels(self.mailbox.id, self.folder).inc()
            delay = self._backoff.next_delay()
            log.info("%s: reconnecting in %.1fs", self.name, delay)
            await _sleep_unless(self._stop, delay)

    async def _stopped_until_credentials_change(self, refused: GrantRefused) -> None:
        """A refused grant does not heal by retrying: stop this folder (``/readyz``
        says why) and look, every ``reconnect_max_s``, whether the credentials
        changed (the refresher asks the endpoint only for a new refresh token)."""
        self.failure = refused
        metrics.MAILBOX_STOPPED.labels(self.mailbox.id, self.folder).set(1)
        log.error(
            "%s: stopped: %s; replace the refresh token or fix the client credentials"
            " (checked every %.0fs, no restart needed)",
            self.name, refused, self._timing.reconnect_max_s,
        )  # fmt: skip
        while not self._stop.is_set():
            await _sleep_unless(self._stop, self._timing.reconnect_max_s)
            if self._stop.is_set():
                return
            try:
                await self._credentials.secret()
            except GrantRefused:
                continue
            except CredentialError:
                break  # a different, passing problem: the normal reconnect path handles it
            break
        self.failure = None
        metrics.MAILBOX_STOPPED.labels(self.mailbox.id, self.folder).set(0)
        log.info("%s: credentials accepted again; resuming", self.name)

    async def _session(self) -> None:
        secret = await self._credentials.secret()
        self._renew_at = self._credentials.renew_at()
        session = await ImapSession.open(
            self.mailbox, secret=secret, timeouts=self._timing.timeouts
        )
        try:
            status = await session.select(self.folder)
            checkpoint = await self._checkpoint_for(session, status)
            await self._prepare_folders(session)
            self._backoff.reset()
            self.sessions += 1
            self._set_connected(True)
            log.info(
                "%s: watching (uidvalidity %d, after uid %d, %s)",
                self.name, checkpoint.uidvalidity, checkpoint.last_uid,
                "IDLE" if self._uses_idle(session) else "polling",
            )  # fmt: skip
            await self._finish_pending_post_actions(session, checkpoint.uidvalidity)
            await self._watch(session, checkpoint)
        finally:
            await session.logout()

    async def _watch(self, session: ImapSession, checkpoint: Checkpoint) -> None:
        last_uid = checkpoint.last_uid
        verified_at = time.monotonic()
        quiet_looks = QUIET_LOOKS_BEFORE_IDLE  # no mail seen yet: IDLE after the first look
        while not self._stop.is_set():
            session.take_arrival_notice()
            looked_after = last_uid
            last_uid = await self._catch_up(session, checkpoint.uidvalidity, last_uid)
            if self._stop.is_set():
                return
            quiet_looks = 0 if last_uid > looked_after else quiet_looks + 1
            if session.take_arrival_notice():
                continue  # announced while we were fetching: IDLE would not repeat it
            if quiet_looks < QUIET_LOOKS_BEFORE_IDLE and self._timing.recheck_s > 0:
                await self._recheck(session)  # mail is coming in: more is likely
            else:
                await self._wait_for_mail(session)
            if self._renew_at is not None and utc_now() >= self._renew_at:
                raise _LoginRenewal
            if time.monotonic() - verified_at >= self._timing.idle_renew_s:
                await self._check_uidvalidity(session, checkpoint.uidvalidity)
                verified_at = time.monotonic()

    async def _wait_for_mail(self, session: ImapSession) -> None:
        if self._uses_idle(session):
            await session.wait_for_change(self._idle_limit_s(), self._stop)
        else:
            await _sleep_unless(self._stop, self._timing.poll_interval_s, session.lost)
            await session.noop()  # keep-alive, and lets the server report new mail
        if session.lost.is_set():
            raise ImapError("connection lost")

    async def _recheck(self, session: ImapSession) -> None:
        """Look again shortly instead of IDLE while mail is coming in: Dovecot 2.3 tells
        an IDLE session of new mail 500 ms after the first change it sees (its
        NOTIFY_DELAY_MSECS), so at 20 mails/s each IDLE took ~520 ms and its first mail
        waited all of it (bench.imap_latency --hops); a NOOP has the server look now.
        ``QUIET_LOOKS_BEFORE_IDLE`` looks that find nothing go back to IDLE."""
        await _sleep_unless(self._stop, self._timing.recheck_s, session.lost)
        if session.lost.is_set():
            raise ImapError("connection lost")
        if not self._stop.is_set():
            await session.noop()

    def _idle_limit_s(self) -> float:
        """IDLE until the renew time or the token's renewal, whichever comes first."""
        if self._renew_at is None:
            return self._timing.idle_renew_s
        until_renewal = (self._renew_at - utc_now()).total_seconds()
        return max(0.1, min(self._timing.idle_renew_s, until_renewal))

    async def _check_uidvalidity(self, session: ImapSession, expected: int) -> None:
        """SELECT again: a folder deleted and recreated under an IDLE session is not
        announced by every server (Dovecot keeps serving the old view, even to STATUS)."""
        current = (await session.select(self.folder)).uidvalidity
        if current != expected:
            raise ImapError(f"UIDVALIDITY changed {expected} -> {current} under the session")

    def _uses_idle(self, session: ImapSession) -> bool:
        return self._timing.use_idle and session.has_capability("IDLE")

    async def _catch_up(self, session: ImapSession, uidvalidity: int, last_uid: int) -> int:
        uids = await session.uids_after(last_uid)
        metrics.LAST_SYNC.labels(self.mailbox.id, self.folder).set(time.time())
        batch_size = self._timing.fetch_batch
        for start in range(0, len(uids), batch_size):
            batch = uids[start : start + batch_size]
            messages = await session.fetch(batch)
            unfetchable = await self._unfetchable(session, batch, messages)
            for run in _runs(_in_uid_order(messages, unfetchable)):
                handled = await self._handle_run(run, uidvalidity)
                last_uid = max([last_uid, *(uid for uid, _mail in handled)])
                await self._post_actions(
                    session, [(uid, mail.outcome, mail.message_key) for uid, mail in handled]
                )
                if self._stop.is_set():
                    return last_uid
        return max([last_uid, *uids])

    async def _handle_run(
        self, run: list[tuple[int, FetchedMessage | None]], uidvalidity: int
    ) -> list[tuple[int, HandledMail]]:
        """Fetched mails together (their events in flight at once), or one unfetchable UID."""
        (first_uid, first), *_ = run
        if first is None:
            handled = await self._pipeline.report_unfetchable(
                self.mailbox.id, folder=self.folder, uidvalidity=uidvalidity, uid=first_uid
            )
            return [(first_uid, handled)]
        messages = [message for _uid, message in run if message is not None]
        results = await self._pipeline.handle_batch(
            self.mailbox, self._context, folder=self.folder,
            uidvalidity=uidvalidity, messages=messages,
        )  # fmt: skip
        return [(message.uid, result) for message, result in zip(messages, results, strict=True)]

    async def _unfetchable(
        self, session: ImapSession, batch: list[int], messages: list[FetchedMessage]
    ) -> list[int]:
        """UIDs that exist but did not come back from FETCH (expunged ones are fine).

        Skipping them would lose mail; retrying forever would stop the folder.
        Each gets ``MAX_FETCH_ATTEMPTS`` sessions, then a dead letter.
        """
        fetched = {m.uid for m in messages}
        missing = [uid for uid in batch if uid not in fetched]
        if not missing:
            return []
        still_there = await session.existing_uids(missing)
        return give_up_on(still_there, self._fetch_failures, MAX_FETCH_ATTEMPTS)

    async def _checkpoint_for(self, session: ImapSession, status: FolderStatus) -> Checkpoint:
        stored = await self._checkpoints.load(self.mailbox.id, self.folder)
        if stored is not None and stored.uidvalidity == status.uidvalidity:
            return stored
        if stored is None:
            start = 0 if self.mailbox.start_from == "all" else await self._highest_uid(session)
        else:
            # Every UID is new now. The handled-message set keeps a resync from
            # republishing what was already published.
            log.warning(
                "%s: UIDVALIDITY changed %d -> %d; resyncing the folder",
                self.name, stored.uidvalidity, status.uidvalidity,
            )  # fmt: skip
            metrics.RESYNCS.labels(self.mailbox.id, self.folder).inc()
            start = 0
        await self._checkpoints.reset(self.mailbox.id, self.folder, status.uidvalidity, start)
        return Checkpoint(status.uidvalidity, start)

    async def _highest_uid(self, session: ImapSession) -> int:
        uids = await session.uids_after(0)
        return uids[-1] if uids else 0

    async def _prepare_folders(self, session: ImapSession) -> None:
        for folder in (self.mailbox.quarantine_folder, self._move_target()):
            if folder:
                await session.ensure_folder(folder)

    def _move_target(self) -> str | None:
        return self.mailbox.move_to if self.mailbox.post_action is PostAction.MOVE else None

    async def _finish_pending_post_actions(self, session: ImapSession, uidvalidity: int) -> None:
        """Post-actions a dropped connection interrupted: the mail is published, act now."""
        pending = await self._checkpoints.pending_post_actions(
            self.mailbox.id, self.folder, uidvalidity
        )
        await self._post_actions(
            session, [(item.uid, Outcome(item.outcome), item.message_key) for item in pending]
        )

    async def _post_actions(
        self, session: ImapSession, handled: list[tuple[int, Outcome, str]]
    ) -> None:
        """The IMAP step of each handled mail (uid, outcome, key), one command for all
        the mails that take the same step (one UID STORE a fetched batch: a STORE a
        mail cost its own round trip and Dovecot sync, bench.imap_latency --hops)."""
        steps: dict[PostStep, list[tuple[int, str]]] = {}
        for uid, outcome, message_key in handled:
            step = _post_action_for(self.mailbox, outcome)
            if step is not None:
                steps.setdefault(step, []).append((uid, message_key))
        for step, mails in steps.items():
            try:
                await step.run(session, [uid for uid, _key in mails])
            except ImapError:
                metrics.POST_ACTION_FAILURES.labels(self.mailbox.id).inc()
                raise  # the session is suspect; the next one finishes these post-actions
            await self._checkpoints.post_actions_done(self.mailbox.id, [key for _uid, key in mails])

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        metrics.CONNECTED.labels(self.mailbox.id, self.folder).set(1 if connected else 0)


def give_up_on(still_there: list[int], failures: dict[int, int], limit: int) -> list[int]:
    """Count a failed FETCH for each UID; raise while any may still be retried,
    return them all (to be dead-lettered) once every one reached ``limit``."""
    for uid in still_there:
        failures[uid] = failures.get(uid, 0) + 1
    retry = [uid for uid in still_there if failures[uid] < limit]
    if retry:
        raise ImapError(f"FETCH returned nothing for existing UIDs {retry}; will retry")
    for uid in still_there:
        failures.pop(uid, None)
    return sorted(still_there)


def _in_uid_order(
    messages: list[FetchedMessage], unfetchable: list[int]
) -> list[tuple[int, FetchedMessage | None]]:
    items: list[tuple[int, FetchedMessage | None]] = [(m.uid, m) for m in messages]
    items.extend((uid, None) for uid in unfetchable)
    return sorted(items, key=lambda item: item[0])


def _runs(
    items: list[tuple[int, FetchedMessage | None]],
) -> list[list[tuple[int, FetchedMessage | None]]]:
    """Items in UID order cut into runs of fetched mails, each unfetchable UID a run of
    its own (handled in UID order, the checkpoint never passes an unhandled UID)."""
    runs: list[list[tuple[int, FetchedMessage | None]]] = []
    for item in items:
        if item[1] is not None and runs and runs[-1][-1][1] is not None:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


@dataclass(frozen=True, slots=True)
class PostStep:
    """The IMAP step after the ack: flag, move (to ``folder``) or delete."""

    action: PostAction
    argument: str = ""  # the flag, or the folder moved to

    async def run(self, session: ImapSession, uids: list[int]) -> None:
        match self.action:
            case PostAction.FLAG:
                await session.add_flag(uids, self.argument)
            case PostAction.MOVE:
                await session.move(uids, self.argument)
            case PostAction.DELETE:
                await session.delete(uids)


def _post_action_for(mailbox: MailboxConfig, outcome: Outcome) -> PostStep | None:
    """The IMAP step after the ack, or None when the mail stays as it is."""
    if outcome is Outcome.QUARANTINED:
        target = mailbox.quarantine_folder
        return PostStep(PostAction.MOVE, target) if target else None
    match mailbox.post_action:
        case PostAction.KEEP:
            return None
        case PostAction.FLAG:
            return PostStep(PostAction.FLAG, mailbox.flag)
        case PostAction.MOVE:
            return PostStep(PostAction.MOVE, mailbox.move_to or "")
        case PostAction.DELETE:
            return PostStep(PostAction.DELETE)


async def _sleep_unless(stop: asyncio.Event, seconds: float, *others: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in (stop, *others)]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
