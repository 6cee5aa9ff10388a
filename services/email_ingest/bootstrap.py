"""Composition root: settings in, watchers running, probes served, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine, Mapping
from datetime import timedelta

import httpx

from libs.common.blobstore import BlobStore
from libs.common.events import utc_now
from libs.common.kafka.consumer import ConsumerRunner
from libs.common.kafka.producer import EventProducer
from libs.common.probes import ReadinessCheck, serve_probes
from services.email_ingest.checkpoint import CheckpointStore
from services.email_ingest.credentials import MailboxCredentials
from services.email_ingest.erasure import EmailIngestEraser
from services.email_ingest.imap.session import Timeouts
from services.email_ingest.mailboxes import MailboxConfig
from services.email_ingest.normalise import MailContext, OwnIdentity
from services.email_ingest.oauth2 import TokenRefresher
from services.email_ingest.pipeline import MailPipeline, mail_context
from services.email_ingest.privacy import erasure_consumer
from services.email_ingest.retention import RetentionPolicy, run_retention
from services.email_ingest.settings import EmailIngestSettings
from services.email_ingest.watcher import FolderWatcher, WatchTiming

log = logging.getLogger(__name__)

#: How long watchers get to finish the mail in hand after a stop.
STOP_GRACE_S = 30.0


def watch_timing(settings: EmailIngestSettings) -> WatchTiming:
    return WatchTiming(
        timeouts=Timeouts(
            connect_s=settings.connect_timeout_s, command_s=settings.command_timeout_s
        ),
        use_idle=settings.use_idle,
        idle_renew_s=settings.idle_renew_s,
        poll_interval_s=settings.poll_interval_s,
        recheck_s=settings.recheck_s,
        fetch_batch=settings.fetch_batch,
        reconnect_initial_s=settings.reconnect_initial_s,
        reconnect_max_s=settings.reconnect_max_s,
    )


def build_credentials(
    settings: EmailIngestSettings, http: httpx.AsyncClient
) -> dict[str, MailboxCredentials]:
    """One credential source per mailbox; the OAuth2 refresher (and its cached
    token) is shared by the mailbox's folder watchers."""
    margin = timedelta(seconds=settings.oauth2_refresh_margin_s)
    return {
        mailbox.id: MailboxCredentials(
            mailbox,
            TokenRefresher(mailbox, http=http, margin=margin) if mailbox.refreshes_oauth2 else None,
        )
        for mailbox in settings.all_mailboxes()
    }


def oauth2_http_client(settings: EmailIngestSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.oauth2_timeout_s, follow_redirects=False)


def mail_context_for(settings: EmailIngestSettings, mailbox: MailboxConfig) -> MailContext:
    """What the normaliser knows of a mailbox, from the settings (watcher and replay)."""
    return mail_context(
        mailbox,
        own=OwnIdentity(settings.own_message_id_domains, settings.own_addresses),
        subject_reference=re.compile(settings.subject_reference_pattern),
        max_message_bytes=settings.max_message_bytes,
    )


def build_pipeline(
    settings: EmailIngestSettings,
    *,
    producer: EventProducer,
    checkpoints: CheckpointStore,
    blobs: BlobStore,
) -> MailPipeline:
    return MailPipeline(
        producer=producer,
        blobs=blobs,
        checkpoints=checkpoints,
        topics=settings.kafka.topics,
        deadletter_inline_max_bytes=settings.deadletter_inline_max_bytes,
        hasher=settings.privacy.hasher(),
    )


def build_watchers(
    settings: EmailIngestSettings,
    *,
    pipeline: MailPipeline,
    checkpoints: CheckpointStore,
    stop: asyncio.Event,
    credentials: Mapping[str, MailboxCredentials] | None = None,
) -> list[FolderWatcher]:
    timing = watch_timing(settings)
    watchers = []
    for mailbox in settings.all_mailboxes():
        context = mail_context_for(settings, mailbox)
        for folder in mailbox.folders:
            watchers.append(
                FolderWatcher(
                    mailbox,
                    folder,
                    context=context,
                    pipeline=pipeline,
                    checkpoints=checkpoints,
                    timing=timing,
                    stop=stop,
                    credentials=(credentials or {}).get(mailbox.id),
                )
            )
    return watchers


async def run_service(settings: EmailIngestSettings, stop: asyncio.Event) -> None:
    checks: dict[str, ReadinessCheck] = {}
    probes = asyncio.create_task(
        serve_probes(lambda: checks, host=settings.probe_host, port=settings.probe_port, stop=stop)
    )
    try:
        if not settings.all_mailboxes():
            # Mail of earlier mailboxes may be kept here: it must still expire and be erasable.
            kept = settings.checkpoint_path.exists()
            log.warning(
                "no mailbox configured (set EMAIL_INGEST_MAILBOXES or EMAIL_INGEST_MAILBOXES_FILE);"
                + (" retention and erasure of the mail kept so far go on" if kept else
                   " idle until stopped")
            )  # fmt: skip
            if not kept:
                await stop.wait()
                return
        warn_plaintext_mailboxes(settings.all_mailboxes())
        await _run_watchers(settings, stop, checks)
    finally:
        stop.set()
        await probes


def warn_plaintext_mailboxes(mailboxes: list[MailboxConfig]) -> None:
    """``allow_plaintext`` is an explicit opt-in; say at every start who uses it."""
    for mailbox in mailboxes:
        if mailbox.sends_credentials_in_clear:
            log.warning(
                "mailbox %s: tls=plain to %s:%d (allow_plaintext): login and mail travel"
                " unencrypted; use only on a trusted network",
                mailbox.id,
                mailbox.host,
                mailbox.effective_port,
            )


async def _run_watchers(
    settings: EmailIngestSettings, stop: asyncio.Event, checks: dict[str, ReadinessCheck]
) -> None:
    checkpoints = CheckpointStore(settings.checkpoint_path)
    checkpoints.open()
    producer = EventProducer(settings.kafka, client_id=settings.service_name)
    http = oauth2_http_client(settings)
    try:
        if not await _start_producer(producer, stop):
            return
        blobs = BlobStore(settings.blob_root)
        hasher = settings.privacy.hasher()
        pipeline = build_pipeline(settings, producer=producer, checkpoints=checkpoints, blobs=blobs)
        watchers = build_watchers(
            settings,
            pipeline=pipeline,
            checkpoints=checkpoints,
            stop=stop,
            credentials=build_credentials(settings, http),
        )
        checks.update(
            readiness_checks(producer.ready, watchers) if watchers else {"kafka": producer.ready}
        )
        if watchers:
            log.info(
                "watching %d folder(s): %s", len(watchers), ", ".join(w.name for w in watchers)
            )
        housekeeping = [
            run_retention(
                checkpoints,
                blobs,
                retention_policy(settings),
                interval_s=settings.retention_interval_s,
                stop=stop,
                clock=utc_now,
            ),
        ]
        if hasher is None:
            log.warning(
                "PRIVACY_HASH_KEY is not set: mail is kept without keyed hashes and erasure"
                " requests (support.privacy.v1) are not consumed"
            )
        else:
            eraser = EmailIngestEraser(checkpoints=checkpoints, blobs=blobs, hasher=hasher)
            consumer = erasure_consumer(settings, producer=producer, eraser=eraser)
            housekeeping.append(_consume(consumer, stop))
        await _supervise(watchers, stop, housekeeping)
    finally:
        await producer.stop()
        await http.aclose()
        checkpoints.close()


async def _start_producer(producer: EventProducer, stop: asyncio.Event) -> bool:
    """Kafka may come up after us: retry until it answers or we are stopped."""
    delay = 1.0
    while not stop.is_set():
        try:
            await producer.start()
            return True
        except Exception as exc:  # aiokafka raises several types for "not reachable"
            log.warning("Kafka not reachable (%r); retrying in %.0fs", exc, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            delay = min(delay * 2, 30.0)
    return False


def retention_policy(settings: EmailIngestSettings) -> RetentionPolicy:
    return RetentionPolicy(
        handled_days=settings.handled_retention_days, blob_days=settings.blob_retention_days
    )


async def _consume(consumer: ConsumerRunner, stop: asyncio.Event) -> None:
    """The erasure consumer; a topic missing at start is retried, not fatal to intake."""
    while not stop.is_set():
        try:
            await consumer.run(stop)
        except Exception:
            log.exception("erasure consumer failed; restarting in 5s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)


async def _supervise(
    watchers: list[FolderWatcher], stop: asyncio.Event, housekeeping: list[Coroutine] = ()
) -> None:
    tasks = [asyncio.create_task(w.run(), name=f"watch {w.name}") for w in watchers]
    tasks += [asyncio.create_task(job, name="housekeeping") for job in housekeeping]
    await stop.wait()
    _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def readiness_checks(
    kafka: ReadinessCheck, watchers: list[FolderWatcher]
) -> dict[str, ReadinessCheck]:
    async def mailboxes() -> bool:
        # Ready while at least one folder is watched: one mailbox whose server is
        # away must not take the whole service out of rotation (/metrics per folder).
        return any(w.connected for w in watchers)

    checks: dict[str, ReadinessCheck] = {"kafka": kafka, "mailboxes": mailboxes}
    by_mailbox: dict[str, list[FolderWatcher]] = {}
    for watcher in watchers:
        by_mailbox.setdefault(watcher.mailbox.id, []).append(watcher)
    for mailbox_id, group in by_mailbox.items():
        # A mailbox that stopped for good (a refused OAuth2 grant) needs a person:
        # it fails readiness under its own name, the exception type saying why.
        checks[f"mailbox {mailbox_id}"] = _stopped_check(group)
    return checks


def _stopped_check(group: list[FolderWatcher]) -> ReadinessCheck:
    async def check() -> bool:
        failure = next((w.failure for w in group if w.failure is not None), None)
        if failure is not None:
            raise failure
        return True

    return check
