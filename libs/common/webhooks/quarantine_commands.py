"""``omnidesk chat|phone quarantine list|show|replay``: one command set, two services.

Each service gives a loader returning its Kafka settings, where its replay
ledger lives and its parser (re-reading a kept body with today's code).
Loaders run only when a command runs: no settings are read at import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from libs.common.cloudevents import CloudEvent
from libs.common.settings import KafkaSettings
from libs.common.webhooks.replay import QuarantinedWebhook


@dataclass(frozen=True)
class ReplaySetup:
    kafka: KafkaSettings
    ledger_path: Path
    parse: Callable[[QuarantinedWebhook], list[CloudEvent]]


def quarantine_commands(
    service: str, kafka: Callable[[], KafkaSettings], setup: Callable[[], ReplaySetup]
) -> typer.Typer:
    app = typer.Typer(
        help=f"Webhook bodies {service} could not read (kept on the dead-letter topic).",
        no_args_is_help=True,
    )

    @app.command("list")
    def quarantine_list() -> None:
        """Id, when, provider/integration, size, why."""
        from libs.common.webhooks.replay import list_quarantined

        items = asyncio.run(list_quarantined(kafka(), service))
        if not items:
            typer.echo("nothing quarantined")
        for item in items:
            typer.echo(
                f"{item.id:<10} {item.failed_at:%Y-%m-%d %H:%M:%S}"
                f" {item.provider}/{item.integration_id} {len(item.body)} bytes: {item.error[:160]}"
            )

    @app.command("show")
    def quarantine_show(
        quarantine_id: str = typer.Argument(..., help="<partition>-<offset>"),
    ) -> None:
        """The kept body as received (it may hold personal data: mind where it goes)."""
        from libs.common.webhooks.replay import find_quarantined

        try:
            item = asyncio.run(find_quarantined(kafka(), service, quarantine_id))
        except KeyError as exc:
            typer.echo(f"error: {exc.args[0]}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{item.provider}/{item.integration_id} {item.content_type}: {item.error}")
        typer.echo(item.body.decode("utf-8", errors="replace"))

    @app.command("replay")
    def quarantine_replay(
        quarantine_id: str = typer.Argument(..., help="<partition>-<offset>"),
    ) -> None:
        """Re-parse with the current code and publish, once; again publishes nothing."""
        from libs.common.kafka.producer import EventProducer
        from libs.common.webhooks import MalformedPayload, UnknownIntegration
        from libs.common.webhooks.replay import ReplayLedger, find_quarantined, replay

        config = setup()

        async def run():  # type: ignore[no-untyped-def]
            item = await find_quarantined(config.kafka, service, quarantine_id)
            async with EventProducer(
                config.kafka, client_id=f"omnidesk-{service}-replay"
            ) as producer:

                async def publish(event: CloudEvent) -> None:
                    key = getattr(event.data, "customer_key", "") or event.id
                    await producer.publish(config.kafka.topics.interactions, event, key=key)

                return await replay(
                    item,
                    parse=config.parse,
                    publish=publish,
                    ledger=ReplayLedger(config.ledger_path),
                )

        try:
            outcome = asyncio.run(run())
        except KeyError as exc:
            typer.echo(f"error: {exc.args[0]}", err=True)
            raise typer.Exit(1) from None
        except UnknownIntegration as exc:
            typer.echo(f"error: {exc.detail}: configure it, then replay", err=True)
            raise typer.Exit(1) from None
        except MalformedPayload as exc:
            typer.echo(f"still unreadable with this version ({exc.detail}): kept", err=True)
            raise typer.Exit(1) from None
        if outcome.already:
            typer.echo(f"{quarantine_id} was replayed at {outcome.already}: nothing published")
        else:
            typer.echo(f"{quarantine_id}: published {len(outcome.published)} event(s)")
            for event_id in outcome.published:
                typer.echo(f"  {event_id}")

    return app
