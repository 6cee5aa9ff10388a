"""The one list of omnidesk's services: the CLI, `dev up`, the configuration reference,
the local test system and the house-rules test all read it.

Each service is a package ``services/<name>`` of the same shape: ``__main__.py`` runs
the process, ``bootstrap.py`` builds it from settings, ``settings.py`` holds one
``ServiceSettings`` subclass and ``cli.py`` a ``typer.Typer`` named ``app``. Modules are
imported only when asked for, so ``omnidesk --help`` does not load every service.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from libs.common.settings import ServiceSettings


@dataclass(frozen=True)
class Service:
    name: str  # the package under services/
    cli_group: str  # what operators type: `omnidesk <cli_group> …`
    settings_class: str  # the ServiceSettings subclass in services/<name>/settings.py
    #: More CLI groups the service provides: (group, module holding `app`).
    more_cli: tuple[tuple[str, str], ...] = field(default=())
    #: Part of the local system the e2e tests and the pipeline bench run as processes.
    in_local_system: bool = True

    @property
    def module(self) -> str:
        """Run as ``python -m <module>`` (Dockerfile, compose, k8s, helm, `dev up`)."""
        return f"services.{self.name}"

    def settings(self) -> type[ServiceSettings]:
        module = importlib.import_module(f"{self.module}.settings")
        return getattr(module, self.settings_class)

    def cli_apps(self) -> list[tuple[str, typer.Typer]]:
        groups = ((self.cli_group, f"{self.module}.cli"), *self.more_cli)
        return [(group, importlib.import_module(module).app) for group, module in groups]


#: In start order: the router first (it owns the conversations the others feed and read).
SERVICES: tuple[Service, ...] = (
    Service("router", "router", "RouterSettings"),
    Service("notifier", "notifier", "NotifierSettings"),
    Service(
        "assistant",
        "assistant",
        "AssistantSettings",
        more_cli=(("kb", "services.assistant.kb.cli"),),
        # its e2e tests start it themselves, with a knowledge base of their own
        in_local_system=False,
    ),
    Service("email_ingest", "email", "EmailIngestSettings"),
    Service("chat_ingest", "chat", "ChatIngestSettings"),
    Service("phone_log", "phone", "PhoneLogSettings"),
)

SERVICE_NAMES: tuple[str, ...] = tuple(service.name for service in SERVICES)


def service(name: str) -> Service:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no service named {name!r}; the services are {', '.join(SERVICE_NAMES)}")
