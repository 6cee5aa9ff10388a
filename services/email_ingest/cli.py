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
    from services.email_ingest.checkpoint import CheckpointStore
    from services.email_ingest.service import build_credentials, oauth2_http_client

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
