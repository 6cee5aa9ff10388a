"""``omnidesk config reference|env-example``."""

from __future__ import annotations

import typer

from tools.config_reference import env_example, markdown

app = typer.Typer(help="The configuration reference, generated from the settings classes.")


@app.command("reference")
def config_reference() -> None:
    """Every setting of every service as a Markdown table."""
    typer.echo(markdown())


@app.command("env-example")
def config_env_example() -> None:
    """Every setting as an .env file with its default (secrets left empty)."""
    typer.echo(env_example(), nl=False)
