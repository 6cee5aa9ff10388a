"""API keys: random tokens, stored as SHA-256 hashes, with a role."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from enum import StrEnum

from sqlalchemy.exc import IntegrityError

from services.router.service.audit import AuditEntry, key_state, record_audit, running_entry
from services.router.service.context import RouterContext
from services.router.store.models import ApiKey

KEY_PREFIX = "odk_"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_RANK = {Role.AGENT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is safe (no dictionary to guess from).
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def role_allows(have: Role, need: Role) -> bool:
    return ROLE_RANK[have] >= ROLE_RANK[need]


async def create_api_key(
    ctx: RouterContext,
    *,
    role: Role,
    name: str,
    agent_id: str | None = None,
    key: str | None = None,
    audit: AuditEntry | None = None,
) -> str:
    """Store a key (a new random one unless given) and return it in clear, once.

    ``audit``: the row of a change made outside the API (CLI, bootstrap); an API
    call's own row otherwise. Either is committed with the key, naming it."""
    audit = audit or running_entry()
    key = key or new_key()
    async with ctx.uow() as uow:
        if await uow.api_keys.by_hash(hash_key(key)) is None:
            created = ApiKey(
                id=str(uuid.uuid4()),
                key_hash=hash_key(key),
                role=role.value,
                name=name,
                agent_id=agent_id,
                created_at=ctx.clock(),
                revoked_at=None,
            )
            uow.api_keys.add(created)
            if audit is not None:
                record_audit(uow, audit.with_result(key_id=created.id, after=key_state(created)))
            with contextlib.suppress(IntegrityError):  # a replica stored the same key first
                await uow.commit()
    return key


class UnknownKey(LookupError):
    pass


async def revoke_api_key(
    ctx: RouterContext, key_id: str, *, audit: AuditEntry | None = None
) -> ApiKey:
    """Revoke a key for good; requests with it are refused (401) from now on.

    ``audit`` as for :func:`create_api_key`."""
    async with ctx.uow() as uow:
        key = await uow.api_keys.by_id(key_id)
        if key is None:
            raise UnknownKey(f"no API key {key_id}")
        if key.revoked_at is None:
            before = key_state(key)
            key.revoked_at = ctx.clock()
            if audit is not None:
                changed = audit.with_result(key_id=key.id, before=before, after=key_state(key))
                record_audit(uow, changed)
            await uow.commit()
        return key


async def list_api_keys(ctx: RouterContext) -> list[ApiKey]:
    async with ctx.uow.reader() as uow:
        return await uow.api_keys.all()


async def key_id_of(ctx: RouterContext, key: str) -> str | None:
    found = await authenticate(ctx, key)
    return found.id if found else None


async def authenticate(ctx: RouterContext, key: str) -> ApiKey | None:
    async with ctx.uow.reader() as uow:
        return await uow.api_keys.by_hash(hash_key(key))


async def key_count(ctx: RouterContext) -> int:
    async with ctx.uow.reader() as uow:
        return await uow.api_keys.count()
