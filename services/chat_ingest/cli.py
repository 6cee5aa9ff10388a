"""``omnidesk chat …``: operator commands for chat_ingest."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Chat webhooks (chat_ingest).", no_args_is_help=True)


@app.command("integrations")
def list_integrations(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per integration."),
) -> None:
    """List the configured integrations and their webhook paths (never the secrets)."""
    from services.chat_ingest.settings import ChatIngestSettings

    integrations = ChatIngestSettings().all_integrations()
    if not integrations:
        typer.echo("no integrations configured (CHAT_INGEST_INTEGRATIONS / _FILE)")
        return
    for integration in integrations:
        info = integration.describe()
        if as_json:
            typer.echo(json.dumps(info, ensure_ascii=False))
        else:
            routing = ",".join(f"{k}={v}" for k, v in info["routing"].items()) or "-"
            typer.echo(
                f"{info['provider']:<12} {info['id']:<20} {info['path']:<40} "
                f"secret={info['secret']} routing={routing}"
            )


@app.command("openapi")
def print_openapi() -> None:
    """Print the webhook API's OpenAPI document."""
    from services.chat_ingest.app import create_app
    from services.chat_ingest.settings import ChatIngestSettings

    typer.echo(json.dumps(create_app(ChatIngestSettings()).openapi(), indent=2, ensure_ascii=False))
