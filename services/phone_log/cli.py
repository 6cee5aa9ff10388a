"""``omnidesk phone …``: run phone_log, list its routes, send a sample call event."""

from __future__ import annotations

import typer

from libs.common.webhooks.quarantine_commands import quarantine_commands

app = typer.Typer(help="phone_log: phone-system call events to Kafka.", no_args_is_help=True)


@app.command("serve")
def serve() -> None:
    """Serve the webhooks (same as `python -m services.phone_log`)."""
    from services.phone_log.__main__ import main

    main()


@app.command("routes")
def routes() -> None:
    """Print the webhook URL of every integration phone_log serves (dev samples only when
    PHONE_LOG_DEV_SAMPLES=true and nothing is configured)."""
    from services.phone_log.bootstrap import load_settings

    settings = load_settings()
    if not settings.integrations:
        typer.echo(
            "no integrations configured (PHONE_LOG_INTEGRATIONS / _FILE): phone_log serves no "
            "webhooks and /readyz answers 503"
        )
        return
    base = f"http://{settings.http_host}:{settings.http_port}"
    for integration in settings.integrations:
        for path in webhook_paths(integration.provider, integration.id):
            typer.echo(f"{integration.provider:<10} {integration.id:<16} POST {base}{path}")


def webhook_paths(provider: str, integration_id: str) -> list[str]:
    if provider == "twilio":
        return [
            f"/twilio/{integration_id}/voice/status",
            f"/twilio/{integration_id}/voice/recording",
        ]
    if provider == "cti":
        return [f"/cti/{integration_id}/<token>"]
    return [f"/{provider}/{integration_id}/cdr"]


@app.command("simulate")
def simulate(
    scenario: str = typer.Argument("missed", help="missed | answered | voicemail"),
    url: str = typer.Option("http://127.0.0.1:8082", help="phone_log base URL."),
    integration: str = typer.Option("dev-cti", help="CTI integration id."),
    token: str = typer.Option("dev-cti-token", help="CTI path token."),
    caller: str = typer.Option("01012345678", help="Customer number."),
) -> None:
    """Post a CTI call sequence to a running phone_log (dev samples by default)."""
    import uuid

    import httpx

    call_id = uuid.uuid4().hex
    for fields in _scenario(scenario, call_id, caller):
        response = httpx.post(f"{url}/cti/{integration}/{token}", data=fields, timeout=15)
        typer.echo(f"{fields['event']:<8} -> {response.status_code} {response.text}")
        if response.status_code >= 300:
            raise typer.Exit(1)


def _scenario(name: str, call_id: str, caller: str) -> list[dict[str, str]]:
    base = {"callId": call_id, "from": caller, "to": "0212345678", "direction": "in"}
    ring = {**base, "event": "newCall"}
    if name == "missed":
        return [ring, {**base, "event": "hangup", "cause": "cancel"}]
    if name == "answered":
        return [
            ring,
            {**base, "event": "answer", "user": "Anna", "answeringNumber": "1001"},
            {**base, "event": "hangup", "cause": "normalClearing", "answeringNumber": "1001"},
        ]
    raise typer.BadParameter(f"unknown scenario {name!r}")


def _kafka():  # type: ignore[no-untyped-def]
    from services.phone_log.settings import PhoneLogSettings

    return PhoneLogSettings().kafka


def _replay_setup():  # type: ignore[no-untyped-def]
    from libs.common.webhooks.quarantine_commands import ReplaySetup
    from services.phone_log.bootstrap import load_settings
    from services.phone_log.replay import reparse
    from services.phone_log.state import PhoneLogState

    settings = load_settings()  # the service's integrations (dev samples included)
    runtime = PhoneLogState.from_settings(settings)
    return ReplaySetup(
        kafka=settings.kafka,
        ledger_path=settings.state_dir / "replays.db",
        parse=lambda item: reparse(item, runtime),
    )


app.add_typer(quarantine_commands("phone_log", _kafka, _replay_setup), name="quarantine")
