"""``omnidesk chat …``: operator commands for chat_ingest."""

from __future__ import annotations

import json

import typer

from libs.common.webhooks.quarantine_commands import quarantine_commands

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
    from services.chat_ingest.bootstrap import create_app
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


def _kafka():  # type: ignore[no-untyped-def]
    from services.chat_ingest.settings import ChatIngestSettings

    return ChatIngestSettings().kafka


def _replay_setup():  # type: ignore[no-untyped-def]
    from libs.common.webhooks.quarantine_commands import ReplaySetup
    from libs.providers.integrations import IntegrationRegistry
    from services.chat_ingest.replay import reparse
    from services.chat_ingest.settings import ChatIngestSettings
    from services.chat_ingest.state import ChatIngestState

    settings = ChatIngestSettings()
    registry = IntegrationRegistry(settings.served_integrations())
    options = ChatIngestState(settings=settings, registry=registry).options
    return ReplaySetup(
        kafka=settings.kafka,
        ledger_path=settings.state_dir / "replays.db",
        parse=lambda item: reparse(item, registry, options, region=settings.default_region),
    )


app.add_typer(quarantine_commands("chat_ingest", _kafka, _replay_setup), name="quarantine")
