"""Reloading rules, policies and agents: audited first, applied after.

A reload changes no database row, so no transaction can carry its audit row;
instead the row is committed first and the new configuration applied only
then. If the row cannot be written the configuration is not applied (the
running one stays, and the caller hears why): no reload takes effect
unrecorded. Files that do not validate are recorded as ``refused``.
"""

from __future__ import annotations

import asyncio
import logging

from services.router.configuration import ConfigError, RouterConfig
from services.router.service.audit import AuditEntry, append_audit
from services.router.service.context import RouterContext

log = logging.getLogger(__name__)


class ReloadNotAudited(RuntimeError):
    """The audit row could not be written, so the new configuration was not applied."""


async def reload_configuration(ctx: RouterContext, entry: AuditEntry) -> RouterConfig:
    """Load and validate the files, commit the audit row, then swap the configuration.

    Raises ConfigError (files invalid; a ``refused`` row is attempted) or
    ReloadNotAudited (valid, but not applied)."""
    try:
        config = await asyncio.to_thread(ctx.config.load)  # file reads off the loop
    except ConfigError as exc:
        refused = entry.with_result(outcome="refused", after={"error": str(exc)[:500]})
        try:
            await append_audit(ctx, refused)
        except Exception:  # nothing changed: the refusal's row is worth a log line only
            log.exception("audit row NOT written for a refused %s", entry.action)
        raise
    counts = {
        "rules": len(config.rules.rules),
        "policies": len(config.policies.policies),
        "queues": len(config.policies.queues),
    }
    try:
        await append_audit(ctx, entry.with_result(outcome="ok", after=counts))
    except Exception as exc:
        reason = f"configuration NOT reloaded: audit row not written ({exc})"
        raise ReloadNotAudited(reason) from exc
    ctx.config.current = config
    return config
