"""``omnidesk demo``: play the scenario against a running `omnidesk dev up`."""

from __future__ import annotations

import asyncio
import json
import os
from zoneinfo import ZoneInfo

import typer

from libs.common.settings import KafkaSettings
from services.notifier.chat_sink import sink_file
from tools.cli.dev import system_file
from tools.demo.console import DEMO_SUPERVISOR, supervisor_sign_in
from tools.demo.scenario import DemoTarget, MailboxAccess, play, timelines_of
from tools.demo.timeline import render

app = typer.Typer(help="A realistic scenario through the public interfaces, then its timeline.")


@app.callback(invoke_without_command=True)
def demo(
    timezone: str = typer.Option(
        "Asia/Seoul", help="Time zone of the printed timeline (named in its header)."
    ),
    escalation_wait: float = typer.Option(
        240, help="Seconds to wait for the demo SLA to breach (the demo policy is 2 minutes)."
    ),
) -> None:
    """Email, Telegram, WhatsApp + missed call, an agent going offline, an SLA breach."""
    try:
        system = json.loads(system_file().read_text())
    except FileNotFoundError:
        typer.echo("no running system found: start it first with `make up` (omnidesk dev up)")
        raise typer.Exit(1) from None
    mailbox = system.get("mailbox")
    # The broker `dev up` used (its port may be OMNIDESK_KAFKA_PORT's), unless set here.
    kafka = KafkaSettings()
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and system.get("kafka_bootstrap_servers"):
        kafka = KafkaSettings(bootstrap_servers=system["kafka_bootstrap_servers"])
    target = DemoTarget(
        chat_url=system["chat_url"],
        phone_url=system["phone_url"],
        router_url=system["router_url"],
        api_key=system["api_key"],
        kafka=kafka,
        mailbox=MailboxAccess(**mailbox) if mailbox else None,
        escalation_timeout_s=escalation_wait,
        two_way=True,
        assistant=True,
        chat_sink_file=sink_file(),
    )

    async def run() -> None:
        key = await supervisor_sign_in(target.router_url, target.api_key)
        typer.echo(
            f"Watch it live: {target.router_url}/console — sign in as {DEMO_SUPERVISOR} "
            f"(supervisor) with the API key {key}"
        )
        played = await play(target, typer.echo)
        zone = ZoneInfo(timezone)
        typer.echo(render(await timelines_of(target, played, tz=zone), tz=zone))

    asyncio.run(run())
