"""``omnidesk privacy forget``: erase a contact's personal data (issue #18)."""

from __future__ import annotations

import asyncio

import typer

from libs.common.privacy.identifiers import (
    IdentifierHasher,
    IdentifierKind,
    InvalidIdentifier,
    PrivacySettings,
)
from libs.common.settings import KafkaSettings
from tools.privacy.forget import Publisher

app = typer.Typer(help="Personal data: erase a contact everywhere omnidesk keeps it.")


def _hasher() -> IdentifierHasher:
    """PRIVACY_HASH_KEY, or the one `omnidesk dev up` generated on this machine."""
    from libs.common.privacy.dev_key import dev_key_file, read_dev_hash_key
    from libs.common.settings import default_home

    hasher = PrivacySettings().hasher()
    if hasher is not None:
        return hasher
    dev_key = read_dev_hash_key(default_home())
    if dev_key is None:
        typer.echo("error: PRIVACY_HASH_KEY is not set (the services' shared secret)", err=True)
        raise typer.Exit(2)
    typer.echo(
        f"note: using the development key of `dev up` ({dev_key_file(default_home())})", err=True
    )
    return IdentifierHasher(dev_key.encode())


@app.command("forget")
def forget_command(
    email: list[str] = typer.Option([], "--email", help="E-mail address (repeatable)."),
    phone: list[str] = typer.Option([], "--phone", help="E.164 phone number (repeatable)."),
    handle: list[str] = typer.Option([], "--handle", help="provider:user-id (repeatable)."),
    contact: str | None = typer.Option(None, "--contact", help="The router's contact id."),
    requested_by: str = typer.Option("cli", help="Who asked (agent id), for the record."),
    publish: bool = typer.Option(
        True, help="Publish the request on the privacy topic (--no-publish: local stores only)."
    ),
    router_url: str | None = typer.Option(
        None,
        envvar="OMNIDESK_ROUTER_URL",
        help="The router's API, asked first: it resolves the contact, erases it and publishes.",
    ),
    api_key: str | None = typer.Option(
        None, envvar="OMNIDESK_API_KEY", help="A supervisor API key of the router."
    ),
) -> None:
    """Publish an erasure request (keyed hashes only) and erase the stores reachable here.

    Idempotent: a second run finds nothing left and says so."""
    from libs.common.events import utc_now
    from libs.common.privacy.erasure import erasure_request
    from tools.privacy.forget import forget, load_erasers, render
    from tools.privacy.router_eraser import RouterEraser, RouterRefused

    hasher = _hasher()
    identifiers = [
        *((IdentifierKind.EMAIL, v) for v in email),
        *((IdentifierKind.PHONE, v) for v in phone),
        *((IdentifierKind.HANDLE, v) for v in handle),
    ]
    try:
        request = erasure_request(
            hasher,
            identifiers=identifiers,
            contact_id=contact,
            requested_by=requested_by,
            erased_at=utc_now(),
        )
    except (InvalidIdentifier, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    kafka = KafkaSettings()
    erasers, elsewhere = load_erasers()
    router = None
    if router_url:
        if not api_key:
            typer.echo("error: OMNIDESK_API_KEY (a router supervisor key) is needed", err=True)
            raise typer.Exit(2)
        router = RouterEraser(router_url, api_key)
    else:
        elsewhere.insert(0, "router (set OMNIDESK_ROUTER_URL)")
    try:
        report = asyncio.run(
            forget(
                request,
                publish=_publisher(kafka) if publish else None,
                erasers=erasers,
                elsewhere=elsewhere,
                router=router,
                identifiers=identifiers,
            )
        )
    except RouterRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in render(report, topic=kafka.topics.privacy):
        typer.echo(line)


def _publisher(kafka: KafkaSettings) -> Publisher:
    from libs.common.cloudevents import CloudEvent
    from libs.common.events.privacy import ContactErased
    from libs.common.kafka.producer import EventProducer
    from libs.common.privacy.erasure import erasure_event_id, erasure_key

    async def publish(request: ContactErased) -> None:
        event = CloudEvent(
            id=erasure_event_id(request),
            source="omnidesk/cli/privacy",
            type=ContactErased.ce_type,
            data=request,
            time=request.erased_at,
        )
        async with EventProducer(kafka, client_id="omnidesk-privacy") as producer:
            await producer.publish(kafka.topics.privacy, event, key=erasure_key(request))

    return publish
