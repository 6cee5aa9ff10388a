"""What every handler needs, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from libs.common.blobstore import BlobStore
from libs.common.privacy.identifiers import IdentifierHasher
from services.router.configuration import RouterConfig, load_config
from services.router.domain.threading import ThreadingPolicy
from services.router.service.csat import CsatSigner
from services.router.settings import RouterSettings
from services.router.store.unit_of_work import UnitOfWorkFactory

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class ConfigHolder:
    """The current rules/policies/agents; ``reload`` swaps them only when valid."""

    rules_path: Path
    policies_path: Path
    agents_path: Path
    current: RouterConfig = field(init=False)

    def __post_init__(self) -> None:
        self.current = self.load()

    def load(self) -> RouterConfig:
        return load_config(self.rules_path, self.policies_path, self.agents_path)

    def reload(self) -> RouterConfig:
        self.current = self.load()  # raises ConfigError and keeps the old config
        return self.current


@dataclass(frozen=True)
class RoutingOptions:
    threading: ThreadingPolicy = field(default_factory=ThreadingPolicy)
    sticky: bool = True
    requeue_on_offline: bool = True
    #: PostgreSQL: rows sent ahead every this many interactions of a poll (0: never)
    send_ahead_every: int = 200

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> RoutingOptions:
        return cls(
            threading=ThreadingPolicy(
                reopen_window=timedelta(minutes=settings.reopen_window_minutes),
                phone_window=timedelta(minutes=settings.phone_window_minutes),
                chat_window=timedelta(minutes=settings.chat_window_minutes),
            ),
            sticky=settings.sticky_assignment,
            requeue_on_offline=settings.requeue_on_offline,
            send_ahead_every=settings.pg_send_ahead_every,
        )


@dataclass
class RouterContext:
    uow: UnitOfWorkFactory
    config: ConfigHolder
    options: RoutingOptions
    csat: CsatSigner
    clock: Clock = system_clock
    #: Longest reply text per outbound provider (the provider registry's max_text_chars).
    reply_limits: dict[str, int] = field(default_factory=dict)
    #: Key of the ``sig`` on rating links (the notifier's NOTIFIER_CSAT_SIGNING_SECRET).
    csat_link_secret: str = ""
    source: str = "omnidesk/router"
    #: PRIVACY_HASH_KEY's hasher; None: erasure requests cannot be made (issue #18).
    privacy: IdentifierHasher | None = None
    #: Networks whose X-Forwarded-For the audit trail believes.
    trusted_proxies: tuple[str, ...] = ()
    #: The ingest services' blob stores (attachments' bytes), searched in order.
    blob_stores: tuple[BlobStore, ...] = ()
