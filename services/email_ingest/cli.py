"""``omnidesk email …``: parse a mail file, check the mailbox connections."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from services.email_ingest.settings import EmailIngestSettings

app = typer.Typer(
    help="Email intake: parse mail files, check IMAP mailboxes.", no_args_is_help=True
)


@app.command("parse")
def parse(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="An .eml file (RFC 5322)."),
    mailbox: str = typer.Option("cli", help="Mailbox id to attribute the mail to."),
) -> None:
    """Print the normalised event (or the quarantine verdict) as JSON."""
    from services.email_ingest.normalise import NormalisedMail, OwnIdentity, normalise_mail
    from services.email_ingest.normalise.mail import MailContext
    from services.email_ingest.pipeline import event_source

    settings = EmailIngestSettings()
    context = MailContext(
        mailbox_id=mailbox,
        own=OwnIdentity(settings.own_message_id_domains, settings.own_addresses),
        subject_token=re.compile(settings.subject_reference_pattern),
        max_message_bytes=settings.max_message_bytes,
    )
    result = normalise_mail(path.read_bytes(), context, received_at=datetime.now(UTC))
    if isinstance(result, NormalisedMail):
        output = {
            "id": result.event_id,
            "source": event_source(mailbox),
            "type": result.interaction.event_type(),
            "data": result.interaction.model_dump(mode="json"),
            "blobs": sorted(result.blobs),
        }
    else:
        output = {"quarantined": result.reason, "detail": result.detail, "blob": result.raw_sha256}
    typer.echo(json.dumps(output, indent=2, ensure_ascii=False))
    if not isinstance(result, NormalisedMail):
        raise typer.Exit(2)


@app.command("check")
def check() -> None:
    """Log in to every configured mailbox and SELECT each folder; exit 1 if any fails."""
    settings = EmailIngestSettings()
    mailboxes = settings.all_mailboxes()
    if not mailboxes:
        typer.echo("no mailbox configured (EMAIL_INGEST_MAILBOXES or EMAIL_INGEST_MAILBOXES_FILE)")
        raise typer.Exit(1)
    failures = asyncio.run(_check_all(settings))
    raise typer.Exit(1 if failures else 0)


async def _check_all(settings: EmailIngestSettings) -> int:
    from services.email_ingest.bootstrap import build_credentials, oauth2_http_client
    from services.email_ingest.checkpoint import CheckpointStore

    checkpoints = _open_checkpoints(CheckpointStore, settings.checkpoint_path)
    failures = 0
    async with oauth2_http_client(settings) as http:
        credentials = build_credentials(settings, http)
        for mailbox in settings.all_mailboxes():
            failures += await _check_mailbox(settings, credentials[mailbox.id], checkpoints)
    return failures


async def _check_mailbox(settings: EmailIngestSettings, credentials, checkpoints) -> int:  # type: ignore[no-untyped-def]
    from services.email_ingest.credentials import CredentialError
    from services.email_ingest.imap.session import ImapError, ImapSession, Timeouts

    timeouts = Timeouts(connect_s=settings.connect_timeout_s, command_s=settings.command_timeout_s)
    mailbox = credentials.config
    target = f"{mailbox.id} ({mailbox.username}@{mailbox.host}:{mailbox.effective_port})"
    try:
        secret = await credentials.secret()
        session = await ImapSession.open(mailbox, secret=secret, timeouts=timeouts)
    except (ImapError, CredentialError, OSError) as exc:
        typer.echo(f"FAIL {target}: {exc}")
        return 1
    failures = 0
    try:
        mode = "IDLE" if session.has_capability("IDLE") else "polling"
        typer.echo(f"ok   {target}: logged in, {mode}")
        for folder in mailbox.folders:
            failures += await _check_folder(session, checkpoints, mailbox.id, folder)
    finally:
        await session.logout()
    return failures


async def _check_folder(session, checkpoints, mailbox_id: str, folder: str) -> int:  # type: ignore[no-untyped-def]
    from services.email_ingest.imap.session import ImapError

    try:
        status = await session.select(folder)
    except ImapError as exc:
        typer.echo(f"FAIL   {folder}: {exc}")
        return 1
    stored = await checkpoints.load(mailbox_id, folder) if checkpoints else None
    progress = (
        f"checkpoint uid {stored.last_uid}"
        + (
            " (UIDVALIDITY changed: will resync)"
            if stored.uidvalidity != status.uidvalidity
            else ""
        )
        if stored
        else "no checkpoint yet"
    )
    typer.echo(
        f"ok     {folder}: {status.exists} messages, uidvalidity {status.uidvalidity}, {progress}"
    )
    return 0


def _open_checkpoints(store_class, path: Path):  # type: ignore[no-untyped-def]
    """Read the checkpoints if the service has written any; never create the file here."""
    if not path.exists():
        return None
    store = store_class(path)
    try:
        store.open()
    except Exception as exc:  # a locked or foreign file: the check still tests the servers
        print(f"(checkpoints unreadable: {exc})", file=sys.stderr)
        return None
    return store


quarantine_app = typer.Typer(
    help="Mail the normaliser could not read: list, show, replay.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list() -> None:
    """What is quarantined: id, mailbox, folder, uid, reason, size, when (and if replayed)."""
    from services.email_ingest.quarantine import list_quarantined

    entries = asyncio.run(_with_checkpoints(list_quarantined))
    if not entries:
        typer.echo("nothing quarantined")
    for e in entries:
        replayed = f"  replayed as {e.replayed_event_id}" if e.replayed_event_id else ""
        typer.echo(
            f"{e.id:>5}  {e.quarantined_at:%Y-%m-%d %H:%M:%S}  {e.mailbox}/{e.folder}/{e.uid}"
            f"  {e.reason}  {e.size} bytes{replayed}"
        )


@quarantine_app.command("show")
def quarantine_show(
    entry_id: int = typer.Argument(..., metavar="ID"),
    raw: bool = typer.Option(False, "--raw", help="Also print the whole raw mail (body too)."),
) -> None:
    """One quarantined mail: where, why, and its headers (no body unless --raw)."""
    from libs.common.blobstore import BlobNotFound, BlobStore
    from services.email_ingest.quarantine import get_quarantined, header_lines

    settings = EmailIngestSettings()
    entry = asyncio.run(_with_checkpoints(lambda store: get_quarantined(store, entry_id)))
    typer.echo(f"id:       {entry.id}")
    typer.echo(f"where:    {entry.mailbox}/{entry.folder} uid {entry.uid} (uidvalidity "
               f"{entry.uidvalidity})")  # fmt: skip
    typer.echo(f"when:     {entry.quarantined_at.isoformat()}")
    typer.echo(f"reason:   {entry.reason}: {entry.detail}")
    typer.echo(f"size:     {entry.size} bytes, blob {entry.raw_sha256}")
    if entry.replayed_event_id:
        typer.echo(f"replayed: {entry.replayed_at} as event {entry.replayed_event_id}")
    try:
        data = BlobStore(settings.blob_root).get(entry.raw_sha256)
    except BlobNotFound:
        typer.echo("raw mail: no longer kept (erased or past retention)")
        return
    typer.echo("")
    for line in header_lines(data):
        typer.echo(line)
    if raw:
        typer.echo("")
        typer.echo(data.decode("utf-8", "replace"))


@quarantine_app.command("replay")
def quarantine_replay(entry_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Re-read a quarantined mail with the current normaliser and settings; publish it once.

    Exit 0: published now, or already published (nothing sent); 2: still unreadable
    or its raw mail is gone."""
    from services.email_ingest.quarantine import ReplayStatus

    result = asyncio.run(_replay(EmailIngestSettings(), entry_id))
    typer.echo(f"{result.status.value}: {result.detail}")
    ok = result.status in (ReplayStatus.PUBLISHED, ReplayStatus.ALREADY_PUBLISHED)
    raise typer.Exit(0 if ok else 2)


async def _replay(settings: EmailIngestSettings, entry_id: int):  # type: ignore[no-untyped-def]
    from libs.common.blobstore import BlobStore
    from libs.common.kafka.producer import EventProducer
    from services.email_ingest.bootstrap import build_pipeline
    from services.email_ingest.quarantine import QuarantineReplayer

    async def run(checkpoints):  # type: ignore[no-untyped-def]
        blobs = BlobStore(settings.blob_root)
        async with EventProducer(settings.kafka, client_id="omnidesk-email-replay") as producer:
            pipeline = build_pipeline(
                settings, producer=producer, checkpoints=checkpoints, blobs=blobs
            )
            replayer = QuarantineReplayer(
                settings, checkpoints=checkpoints, blobs=blobs, pipeline=pipeline
            )
            return await replayer.replay(entry_id)

    return await _with_checkpoints(run, settings)


async def _with_checkpoints(work, settings: EmailIngestSettings | None = None):  # type: ignore[no-untyped-def]
    """Run ``work(store)`` on the service's checkpoint file (shared with a running service:
    SQLite WAL); a missing file or id is a clear error, exit 1."""
    from services.email_ingest.checkpoint import CheckpointStore
    from services.email_ingest.quarantine import QuarantineNotFound

    settings = settings or EmailIngestSettings()
    if not settings.checkpoint_path.exists():
        typer.echo(f"no email_ingest state at {settings.checkpoint_path}", err=True)
        raise typer.Exit(1)
    store = CheckpointStore(settings.checkpoint_path)
    store.open()
    try:
        return await work(store)
    except QuarantineNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()


@app.command("backfill-hashes")
def backfill_hashes() -> None:
    """Once after upgrading to issue #18: give mail handled before it the keyed sender
    hash, blob references and quarantine entries erasure and `quarantine list` need
    (reads every kept blob; safe beside the running service; a second run does nothing)."""
    from libs.common.blobstore import BlobStore
    from services.email_ingest.backfill import backfill

    settings = EmailIngestSettings()
    hasher = settings.privacy.hasher()
    if hasher is None:
        typer.echo("error: PRIVACY_HASH_KEY is not set (the services' shared secret)", err=True)
        raise typer.Exit(2)
    mailbox_ids = [m.id for m in settings.all_mailboxes()]
    report = asyncio.run(
        _with_checkpoints(
            lambda store: backfill(store, BlobStore(settings.blob_root), hasher, mailbox_ids),
            settings,
        )
    )
    typer.echo(
        f"read {report.blobs_read} blobs; hashed {report.handled_rows} handled rows;"
        f" {report.quarantine_entries} quarantine entries added;"
        f" {report.rows_still_without_hash} rows left without a hash (raw mail no longer kept)"
    )
