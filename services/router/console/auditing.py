"""Console actions in the audit trail (issue #18): the same rows the API writes.

The API's audit middleware records only calls made with an API key header, so it
never sees console POSTs (the console signs in by session cookie); the console
records its own, with the signed-in agent as actor and the caller's address under
the same trusted-proxy rule. One row per action, committed with the action's first
transaction (``service.audit``: no committed action without its row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from services.router.service.audit import (
    AuditEntry,
    PendingAction,
    begin_action,
    client_address,
    finish_action,
    snapshot_targets,
)
from services.router.service.context import RouterContext
from services.router.store.models import ApiKey


def actor_of(key: ApiKey) -> str:
    """As the API names callers: the agent, or the key's role and name."""
    return key.agent_id or f"{key.role}:{key.name}"


@dataclass
class ConsoleAction:
    """One console action's audit row: begun before the action (its ``before``
    state); its first commit carries the row; closed once the outcome is known."""

    ctx: RouterContext
    pending: PendingAction

    def touching(self, conversation_id: str) -> None:
        """Name the conversation once known (e.g. an attachment's), without a snapshot."""
        self.pending.entry = self.pending.entry.with_result(conversation_id=conversation_id)

    @classmethod
    async def begin(
        cls,
        ctx: RouterContext,
        request: Request,
        key: ApiKey,
        action: str,
        *,
        conversation_id: str | None = None,
        agent_id: str | None = None,
    ) -> ConsoleAction:
        peer = request.client.host if request.client else None
        entry = AuditEntry(
            actor=actor_of(key),
            role=key.role,
            action=f"console.{action}",
            at=ctx.clock(),
            conversation_id=conversation_id,
            agent_id=agent_id,
            key_id=key.id,
            address=client_address(
                peer, request.headers.get("x-forwarded-for"), ctx.trusted_proxies
            ),
        )
        targets = {
            name: value
            for name, value in (("conversation_id", conversation_id), ("agent_id", agent_id))
            if value is not None
        }
        before = await snapshot_targets(ctx, targets)
        return cls(ctx, begin_action(entry, before=before, targets=targets))

    async def done(self, outcome: str = "ok", **extra: Any) -> None:
        await finish_action(self.ctx, self.pending, outcome, **extra)
