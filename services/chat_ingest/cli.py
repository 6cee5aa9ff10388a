"""``omnidesk chat …``: operator commands for chat_ingest."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Chat webhooks (chat_ingest).", no_args_is_help=True)


@app.command("integrations")
def list_integrations(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per integration."),
) -> None:
    """List what chat_ingest serves with this environment: its webhook paths, never secrets.

    Includes the public development integrations when
    CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY=true and nothing is configured, as the
    service itself would serve them.
    """
    from services.chat_ingest.settings import ChatIngestSettings

    integrations = ChatIngestSettings().served_integrations()
    if not integrations:
        typer.echo(
            "no integrations configured (CHAT_INGEST_INTEGRATIONS / _FILE): chat_ingest serves "
            "no webhooks and /readyz answers 503"
        )
        return
    for integration in integrations:
        info = integration.describe()
        if as_json:
            typer.echo(json.dumps(info, ensure_ascii=False))
        else:
            routing = ",".join(f"{k}={v}" for k, v in info["routing"].items()) or "-"
            dev = "  DEVELOPMENT (public secret)" if info["dev"] else ""
            typer.echo(
                f"{info['provider']:<12} {info['id']:<20} {info['path']:<40} "
                f"secret={info['secret']} routing={routing}{dev}"
            )


@app.command("openapi")
def print_openapi() -> None:
    """Print the webhook API's OpenAPI document."""
    from services.chat_ingest.app import create_app
    from services.chat_ingest.settings import ChatIngestSettings

    typer.echo(json.dumps(create_app(ChatIngestSettings()).openapi(), indent=2, ensure_ascii=False))


@app.command("send-sample")
def send_sample(
    provider: str = typer.Argument(..., help="twilio, whatsapp, telegram, slack, line, …"),
    url: str = typer.Option("http://127.0.0.1:8081", help="Base URL of a running chat_ingest."),
    integration: str = typer.Option("dev", help="Integration id."),
    secret: str = typer.Option(
        None, help="The integration's secret (default: the public dev secret).", show_default=False
    ),
    seq: int = typer.Option(None, help="Message number (default: from the clock)."),
) -> None:
    """Send one realistic, correctly signed webhook to a running chat_ingest."""
    import time

    import httpx

    from libs.providers.integrations import DEV_SECRET, Provider
    from services.chat_ingest.samples import sample_request

    request = sample_request(
        Provider(provider),
        integration_id=integration,
        secret=secret or DEV_SECRET,
        seq=seq if seq is not None else int(time.time() * 1000) % 1_000_000_000,
        base_url=url,
    )
    try:
        response = httpx.request(
            request.method,
            url.rstrip("/") + request.path,
            content=request.content,
            headers=request.headers,
            timeout=30,
        )
    except httpx.HTTPError as exc:
        typer.echo(f"error: {url} did not answer: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{response.status_code} {response.text}")
    if response.status_code >= 300:
        raise typer.Exit(1)


quarantine_app = typer.Typer(
    help="Webhook bodies chat_ingest could not read (kept on the dead-letter topic).",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list() -> None:
    """Id, when, provider/integration, why, size."""
    import asyncio

    from services.chat_ingest.replay import list_quarantined
    from services.chat_ingest.settings import ChatIngestSettings

    items = asyncio.run(list_quarantined(ChatIngestSettings().kafka))
    if not items:
        typer.echo("nothing quarantined")
    for item in items:
        typer.echo(
            f"{item.id:<10} {item.failed_at:%Y-%m-%d %H:%M:%S}"
            f" {item.provider}/{item.integration_id} {len(item.body)} bytes: {item.error[:160]}"
        )


@quarantine_app.command("show")
def quarantine_show(quarantine_id: str = typer.Argument(..., help="<partition>-<offset>")) -> None:
    """The kept body as received (it may hold personal data: mind where it goes)."""
    import asyncio

    from services.chat_ingest.replay import find_quarantined
    from services.chat_ingest.settings import ChatIngestSettings

    try:
        item = asyncio.run(find_quarantined(ChatIngestSettings().kafka, quarantine_id))
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{item.provider}/{item.integration_id} {item.content_type}: {item.error}")
    typer.echo(item.body.decode("utf-8", errors="replace"))


@quarantine_app.command("replay")
def quarantine_replay(
    quarantine_id: str = typer.Argument(..., help="<partition>-<offset>"),
) -> None:
    """Re-parse with the current code and publish, once; again publishes nothing."""
    import asyncio

    from libs.common.kafka.producer import EventProducer
    from libs.common.webhooks import MalformedPayload, UnknownIntegration
    from libs.providers.integrations import IntegrationRegistry
    from services.chat_ingest.replay import ReplayLedger, find_quarantined, reparse, replay
    from services.chat_ingest.runtime import Runtime
    from services.chat_ingest.settings import ChatIngestSettings

    settings = ChatIngestSettings()
    registry = IntegrationRegistry(settings.served_integrations())
    options = Runtime(settings=settings, registry=registry).options

    async def run():  # type: ignore[no-untyped-def]
        item = await find_quarantined(settings.kafka, quarantine_id)
        async with EventProducer(settings.kafka, client_id="omnidesk-chat-replay") as producer:

            async def publish(event) -> None:  # type: ignore[no-untyped-def]
                await producer.publish(
                    settings.kafka.topics.interactions, event.cloud_event(), key=event.key
                )

            return await replay(
                item,
                parse=lambda q: reparse(q, registry, options, region=settings.default_region),
                publish=publish,
                ledger=ReplayLedger(settings.state_dir / "replays.db"),
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
