"""``omnidesk kb check PATH``: validate a KB folder or file; problems with file and line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Knowledge base of the assistant.")


@app.callback()
def kb_group() -> None:
    """Knowledge base of the assistant (a group even with one command)."""


@app.command("check")
def check_command(
    path: Path = typer.Argument(..., help="KB folder (every *.yaml) or one file."),
) -> None:
    """Exit 0 and a one-line summary when the KB is valid; else every problem, exit 1."""
    from services.assistant.kb.loader import load_kb

    result = load_kb(path, base_synonyms=None)
    if result.kb is None:
        for problem in result.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(result.problems)} problem(s)", err=True)
        raise typer.Exit(1)
    kb = result.kb
    handoff = sum(a.handoff for a in kb.articles)
    typer.echo(
        f"ok: {len(kb.articles)} articles ({handoff} handoff), "
        f"{len(kb.synonyms)} synonym groups, {len(kb.sources)} file(s)"
    )
