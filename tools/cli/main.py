"""``omnidesk``: the single entry for operators.

Core commands live here; each service plugs in its own group from
``services/<name>/cli.py`` (a ``typer.Typer`` named ``app``), as listed in
:mod:`tools.services`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import typer

from libs.common.settings import KafkaSettings
from tools.cli import config, deadletter, demo, dev, privacy
from tools.local_broker import LocalKafka, LocalKafkaError
from tools.services import SERVICES

app = typer.Typer(help="omnidesk: omnichannel support intake and routing.", no_args_is_help=True)
kafka_app = typer.Typer(help="A real local Kafka broker (KRaft) from Maven Central jars.")
topics_app = typer.Typer(help="Kafka topic administration (explicit, never auto-create).")
schema_app = typer.Typer(help="Event JSON Schemas.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")
app.add_typer(schema_app, name="schema")
app.add_typer(dev.app, name="dev")
app.add_typer(deadletter.app, name="deadletter")
app.add_typer(config.app, name="config")
app.add_typer(demo.app, name="demo")
app.add_typer(privacy.app, name="privacy")


def _plug_in_services() -> None:
    for service in SERVICES:
        for group, sub in service.cli_apps():
            app.add_typer(sub, name=group)


@kafka_app.command("start")
def kafka_start() -> None:
    """Fetch (once), format (once) and start the local broker; wait until it serves.

    Ports: OMNIDESK_KAFKA_PORT (9092) and OMNIDESK_KAFKA_CONTROLLER_PORT (9093);
    data and state: OMNIDESK_HOME; jars: OMNIDESK_CACHE_DIR.
    """
    _verbose()
    broker = LocalKafka()
    try:
        broker.start()
    except LocalKafkaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Kafka {broker.version} ready on {broker.bootstrap_servers} (pid {broker.pid()})")
    typer.echo(f"data: {broker.data_dir}  log: {broker.log_file}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker (its data is kept)."""
    broker = LocalKafka()
    typer.echo("stopped" if broker.stop() else "not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Say whether the local broker runs."""
    broker = LocalKafka()
    pid = broker.pid()
    if pid is None:
        typer.echo("not running")
        raise typer.Exit(3)
    typer.echo(f"running (pid {pid}) on {broker.bootstrap_servers}; data in {broker.data_dir}")


@topics_app.command("create")
def topics_create() -> None:
    """Create the topics named in the KAFKA_TOPIC_* settings that are missing."""
    from libs.common.kafka.admin import create_topics

    settings = KafkaSettings()
    created = asyncio.run(create_topics(settings))
    for name in settings.topics.all_names():
        typer.echo(f"{name}: {'created' if name in created else 'exists'}")


@topics_app.command("list")
def topics_list() -> None:
    """List the cluster's topics."""
    from libs.common.kafka.admin import list_topics

    for name in asyncio.run(list_topics(KafkaSettings())):
        typer.echo(name)


@schema_app.command("export")
def schema_export(
    out: Path = typer.Option(Path("schemas"), help="Folder for the JSON Schema files."),
) -> None:
    """Write one JSON Schema file per event model (checked in; a test guards drift)."""
    from tools.schema_export import export_schemas

    for path in export_schemas(out):
        typer.echo(str(path))


@schema_app.command("show")
def schema_show(model: str) -> None:
    """Print the JSON Schema of one event model."""
    from tools.schema_export import render_schemas

    typer.echo(json.dumps(render_schemas()[model], indent=2, ensure_ascii=False))


def _verbose() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def main() -> None:
    _plug_in_services()
    app()


if __name__ == "__main__":
    main()
