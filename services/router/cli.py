"""``omnidesk router …``: migrate, create API keys, check the configuration."""

from __future__ import annotations

import asyncio

import typer

app = typer.Typer(help="The router: conversation store, API keys, configuration.")


@app.command("migrate")
def migrate_command() -> None:
    """Bring the database (ROUTER_DATABASE_URL) to the newest schema."""
    from services.router.settings import RouterSettings
    from services.router.store.engine import build_engine, migrate

    async def run() -> None:
        engine = build_engine(RouterSettings().database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo("database schema is current")


@app.command("create-api-key")
def create_api_key_command(
    role: str = typer.Option("agent", help="agent, supervisor or admin"),
    name: str = typer.Option("cli", help="What the key is for."),
    agent_id: str | None = typer.Option(None, help="Agent the key acts as (role agent)."),
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from services.router.bootstrap import build_context, open_store
    from services.router.service.api_keys import Role, create_api_key
    from services.router.service.audit import cli_audit_entry
    from services.router.settings import RouterSettings

    try:
        chosen = Role(role)
    except ValueError:
        typer.echo(f"error: role must be one of {[r.value for r in Role]}", err=True)
        raise typer.Exit(2) from None

    async def run() -> str:
        settings = RouterSettings(csat_secret="x" * 32)  # not used here; avoids the warning
        engine = await open_store(settings)
        try:
            ctx = build_context(settings, engine)
            audit = cli_audit_entry(ctx, "cli.create-api-key")
            return await create_api_key(ctx, role=chosen, name=name, agent_id=agent_id, audit=audit)
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))


@app.command("revoke-api-key")
def revoke_api_key_command(key_id: str) -> None:
    """Revoke an API key by its id (see `GET /api-keys`); it is refused from now on."""
    from services.router.bootstrap import build_context, open_store
    from services.router.service.api_keys import UnknownKey, revoke_api_key
    from services.router.service.audit import cli_audit_entry
    from services.router.settings import RouterSettings

    async def run() -> None:
        settings = RouterSettings(csat_secret="x" * 32)  # not used here; avoids the warning
        engine = await open_store(settings)
        try:
            ctx = build_context(settings, engine)
            await revoke_api_key(ctx, key_id, audit=cli_audit_entry(ctx, "cli.revoke-api-key"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except UnknownKey as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked {key_id}")


@app.command("check-config")
def check_config_command() -> None:
    """Validate the rules, policies and agents files named by the settings."""
    from services.router.configuration import ConfigError, load_config
    from services.router.settings import RouterSettings

    settings = RouterSettings()
    try:
        config = load_config(settings.rules_path, settings.policies_path, settings.agents_path)
    except ConfigError as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"ok: {len(config.rules.rules)} rules, {len(config.policies.queues)} queues, "
        f"{len(config.policies.policies)} policies, {len(config.roster.agents)} agents"
    )
