"""``omnidesk notifier …``: preview templates, run the local SMTP sink, run the service."""

from __future__ import annotations

from pathlib import Path

import typer

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
    from services.notifier.compose import notice_context
    from services.notifier.decisions import plan_notifications
    from services.notifier.main import build_renderer, compose_config, handler_config
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
    from services.notifier.main import main

    main()
