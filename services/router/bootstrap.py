"""Composition root helpers: engine, migrations, context — built at start, never at import."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.blobstore import BlobStore
from libs.common.csat_links import DEV_CSAT_LINK_SECRET
from libs.common.privacy.identifiers import IdentifierHasher
from libs.providers.limits import MAX_TEXT_CHARS
from services.router.domain.replies import MAIL_TEXT_LIMIT
from services.router.service.audit import audit_in_transaction
from services.router.service.context import (
    Clock,
    ConfigHolder,
    RouterContext,
    RoutingOptions,
    system_clock,
)
from services.router.service.csat import CsatSigner
from services.router.settings import RouterSettings
from services.router.store.engine import build_engine, migrate
from services.router.store.unit_of_work import HandOver, UnitOfWorkFactory

log = logging.getLogger(__name__)


def build_config(settings: RouterSettings) -> ConfigHolder:
    return ConfigHolder(settings.rules_path, settings.policies_path, settings.agents_path)


def build_csat(settings: RouterSettings) -> CsatSigner:
    if settings.csat_secret is None:
        log.warning("ROUTER_CSAT_SECRET unset: rating links die with this process")
        secret = secrets.token_bytes(32)
    else:
        secret = settings.csat_secret.get_secret_value().encode()
    return CsatSigner(secret, valid_for=timedelta(days=settings.csat_token_days))


def csat_link_secret(settings: RouterSettings) -> str:
    secret = settings.csat_link_secret.get_secret_value()
    if secret == DEV_CSAT_LINK_SECRET:
        log.warning(
            "ROUTER_CSAT_LINK_SECRET is the development marker: set it to the notifier's "
            "NOTIFIER_CSAT_SIGNING_SECRET, or rating links from a production notifier answer 403"
        )
    return secret


def privacy_hasher(settings: RouterSettings) -> IdentifierHasher | None:
    hasher = settings.privacy.hasher()
    if hasher is None:
        log.warning(
            "PRIVACY_HASH_KEY unset: DELETE /contacts/{id} answers 409 (the erasure request"
            " for the other stores needs the shared key)"
        )
    return hasher


def reply_limits() -> dict[str, int]:
    """Longest reply per outbound provider (mail: our cap)."""
    return {**MAX_TEXT_CHARS, "imap": MAIL_TEXT_LIMIT}


async def open_store(settings: RouterSettings) -> AsyncEngine:
    engine = build_engine(settings.database_url, pool_size=settings.db_pool_size)
    if settings.is_sqlite or settings.migrate_on_start:
        await migrate(engine)
    return engine


def build_context(
    settings: RouterSettings,
    engine: AsyncEngine,
    *,
    clock: Clock = system_clock,
    on_commit: Callable[[], None] | None = None,
    hand_over: HandOver | None = None,
) -> RouterContext:
    return RouterContext(
        # every commit carries the running API/console action's audit row
        uow=UnitOfWorkFactory(
            engine, on_commit=on_commit, before_commit=audit_in_transaction, hand_over=hand_over
        ),
        config=build_config(settings),
        options=RoutingOptions.from_settings(settings),
        csat=build_csat(settings),
        clock=clock,
        csat_link_secret=csat_link_secret(settings),
        reply_limits=reply_limits(),
        privacy=privacy_hasher(settings),
        trusted_proxies=tuple(settings.trusted_proxies),
        blob_stores=tuple(BlobStore(path) for path in settings.blob_dirs),
    )
