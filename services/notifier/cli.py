"""``omnidesk notifier …``: preview templates, run the local SMTP sink, run the service."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from services.notifier.settings import NotifierSettings

app = typer.Typer(help="Notifier: mail and webhooks for routing events.", no_args_is_help=True)


@app.command("render")
def render(
    event_type: str = typer.Argument(
        ...,
        help="CloudEvents type (support.conversation.opened) or its end (opened, reply.requested).",
    ),
    locale: str = typer.Option("en", "--locale", "-l", help="Language of the conversation."),
    html: bool = typer.Option(False, "--html", help="Also print the HTML part."),
) -> None:
    """Preview what a sample event of EVENT_TYPE sends (subject, headers, text)."""
    from services.notifier.bootstrap import build_renderer, compose_config, handler_config
    from services.notifier.compose import notice_context
    from services.notifier.decisions import plan_notifications
    from services.notifier.samples import sample_events, snapshot
    from services.notifier.settings import NotifierSettings

    settings = NotifierSettings()
    event = _pick(sample_events(snapshot(language=locale)), event_type)
    plan = plan_notifications(event, handler_config(settings).plan)
    renderer = build_renderer(settings)
    if not plan.mails:
        typer.echo(f"{event.ce_type}: no mail (webhooks: {len(plan.webhooks)})")
    for notice in plan.mails:
        rendered = renderer.render(
            notice.template, notice.locale, notice_context(event, notice, compose_config(settings))
        )
        typer.echo(f"=== {notice.template} [{notice.locale}] to {notice.recipient}")
        typer.echo(f"Auto-Submitted: {notice.auto_submitted or '(none: written by a person)'}")
        typer.echo(f"Subject: [#{event.conversation.reference}] {rendered.subject}\n")
        typer.echo(rendered.text)
        if html and rendered.html:
            typer.echo(rendered.html)


def _pick(events: dict, event_type: str):  # type: ignore[no-untyped-def]
    for ce_type, event in events.items():
        if ce_type == event_type or ce_type.endswith("." + event_type):
            return event
    known = ", ".join(sorted(events))
    typer.echo(f"unknown event type {event_type!r}; known: {known}", err=True)
    raise typer.Exit(2)


@app.command("sink")
def sink(
    host: str | None = typer.Option(None, help="Bind address (NOTIFIER_SINK_HOST)."),
    port: int | None = typer.Option(None, help="Port (NOTIFIER_SINK_PORT, 1025)."),
    folder: Path | None = typer.Option(None, help="Where .eml files go (NOTIFIER_SINK_DIR)."),
) -> None:
    """Run the local SMTP sink in the foreground; Ctrl-C stops it."""
    from services.notifier.settings import NotifierSettings
    from services.notifier.smtp_sink import run_sink

    settings = NotifierSettings()
    run_sink(
        host or settings.sink_host,
        port or settings.sink_port,
        folder or settings.resolved_sink_dir(),
        log_level=settings.log_level,
    )


@app.command("run")
def run() -> None:
    """Run the notifier (same as `python -m services.notifier`)."""
    from services.notifier.__main__ import main

    main()


@app.command("check")
def check() -> None:
    """Check the SMTP relay (connect, TLS, AUTH, NOOP) and the sent-log database."""
    import asyncio

    from services.notifier.settings import NotifierSettings

    settings = NotifierSettings()
    results = asyncio.run(_check(settings))
    for name, problem in results.items():
        typer.echo(f"{name}: {problem or 'ok'}")
    if any(results.values()):
        raise typer.Exit(1)


async def _check(settings: NotifierSettings) -> dict[str, str | None]:
    from services.notifier.sentlog import SentLog
    from services.notifier.smtp import SmtpConfig, SmtpPool

    results: dict[str, str | None] = {}
    target = f"smtp {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_tls.value})"
    try:
        await SmtpPool(SmtpConfig.from_settings(settings)).check()
        results[target] = None
    except Exception as exc:  # an operator check reports; it does not crash
        results[target] = f"FAILED {type(exc).__name__}: {exc}"
    sentlog = SentLog(settings.resolved_sentlog_url())
    name = f"sent-log {settings.resolved_sentlog_url().split('://', 1)[0]}"
    try:
        await sentlog.open()
        await sentlog.ping()
        results[name] = None
    except Exception as exc:
        results[name] = f"FAILED {type(exc).__name__}: {exc}"
    finally:
        await sentlog.close()
    return results


@app.command("log")
def show_log(event_id: str = typer.Argument(..., help="Routing event id (ce_id).")) -> None:
    """Show what the sent-log recorded for one routing event."""
    import asyncio

    from services.notifier.sentlog import SentLog
    from services.notifier.settings import NotifierSettings

    async def read() -> list:  # type: ignore[type-arg]
        sentlog = SentLog(NotifierSettings().resolved_sentlog_url())
        await sentlog.open()
        try:
            return await sentlog.for_event(event_id)
        finally:
            await sentlog.close()

    rows = asyncio.run(read())
    if not rows:
        typer.echo(f"nothing recorded for {event_id}")
        raise typer.Exit(3)
    for key, record in rows:
        detail = record.message_id or record.reason or ""
        typer.echo(
            f"{record.status.value:<10} {key.template:<24} {key.recipient:<32} "
            f"attempts={record.attempts} {record.updated_at:%Y-%m-%d %H:%M:%S} {detail}"
        )


@app.command("prune")
def prune(
    older_than_days: int = typer.Option(
        30, min=1, help="Keep at least your topic retention plus the longest replay delay."
    ),
) -> None:
    """Delete finished sent-log rows (and old rate slots) older than N days."""
    import asyncio
    from datetime import timedelta

    from libs.common.events import utc_now
    from services.notifier.sentlog import SentLog
    from services.notifier.settings import NotifierSettings

    async def run_prune() -> int:
        sentlog = SentLog(NotifierSettings().resolved_sentlog_url())
        await sentlog.open()
        try:
            return await sentlog.prune(before=utc_now() - timedelta(days=older_than_days))
        finally:
            await sentlog.close()

    typer.echo(f"deleted {asyncio.run(run_prune())} sent-log rows")
