"""``omnidesk deadletter list|replay``."""

from __future__ import annotations

import asyncio

import typer

from libs.common.kafka.producer import EventProducer
from libs.common.kafka.replay import list_dead_letters, replay_dead_letters
from libs.common.settings import KafkaSettings

app = typer.Typer(help="Inspect and replay the dead-letter topic.")


@app.command("list")
def deadletter_list(
    limit: int = typer.Option(50, help="Show at most this many, newest last."),
) -> None:
    """Show what failed, where, and why."""
    views = asyncio.run(list_dead_letters(KafkaSettings(), limit))
    if not views:
        typer.echo("no dead letters")
    for view in views:
        letter = view.letter
        if letter is None:
            typer.echo(f"[{view.partition}@{view.offset}] (no dead-letter headers)")
            continue
        origin = letter.original_topic or letter.source or "?"
        typer.echo(
            f"[{view.partition}@{view.offset}] {letter.failed_at:%Y-%m-%d %H:%M:%S} "
            f"{letter.stage} from {origin}: {letter.error_type}: {letter.error[:160]}"
        )


@app.command("replay")
def deadletter_replay(
    stage: str | None = typer.Option(None, help="Only letters from this stage."),
    dry_run: bool = typer.Option(False, help="Count what would be replayed; change nothing."),
) -> None:
    """Send dead letters back to the topic they came from (after fixing the cause)."""

    async def run() -> None:
        settings = KafkaSettings()
        async with EventProducer(settings, client_id="omnidesk-replay") as producer:
            report = await replay_dead_letters(settings, producer, stage=stage, dry_run=dry_run)
        verb = "would replay" if dry_run else "replayed"
        typer.echo(f"{verb} {report.replayed}, skipped {report.skipped}")

    asyncio.run(run())
