"""Router erasure, retention and the audit trail's cost on a store of realistic size.

Fills a real router store (SQLite by default, ``--database-url`` for
PostgreSQL) with ``--customers`` contacts writing ``--mails`` mails each (one
conversation per customer, attachments recorded), then times: erasing one
contact (the store's write transaction), erasing it again, a retention pass
with nothing old, one that blanks every conversation (all resolved and old).
No broker is involved: the erasure's event stays in the outbox. Not a target
from architecture §8; a figure to know how long ``DELETE /contacts/{id}`` holds the
write lock.

    python -m bench.privacy_router [--customers 2000] [--mails 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bench.common import write_result
from libs.common.events.interaction import (
    Attachment,
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
)
from libs.common.privacy.identifiers import IdentifierKind, PrivacySettings
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.erasure import erase_contact, resolve_contact
from services.router.service.interactions import Incoming, route_batch
from services.router.service.retention import RetentionPolicy, apply_retention
from services.router.settings import RouterSettings
from services.router.store.models import Conversation

KEY = "bench-privacy-hash-key-0123456789abcdef"


def mail(customer: int, n: int, at: datetime) -> Interaction:
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(
            email=f"customer{customer}@example.com", display_name=f"C {customer}"
        ),
        subject=f"question {n}",
        body=MessageBody(text="where is my deposit? " * 20),
        attachments=[
            Attachment(name=f"scan-{n}.png", content_type="image/png", sha256=f"{customer:064x}")
        ],
    )


async def timed(work) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = await work
    return (time.perf_counter() - started) * 1000, result


async def run(customers: int, mails: int, database_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        settings = RouterSettings(
            state_dir=Path(folder),
            database_url=database_url or "",
            kafka=KafkaSettings(),
            privacy=PrivacySettings(hash_key=KEY),
            dev_mode=False,
        )
        engine = await open_store(settings)
        ctx = build_context(settings, engine)
        start = datetime.now(UTC)
        fill_started = time.perf_counter()
        for n in range(mails):
            batch = [
                Incoming(f"ev-{c}-{n}", mail(c, n, start + timedelta(seconds=n)))
                for c in range(customers)
            ]
            for i in range(0, len(batch), 500):
                await route_batch(ctx, batch[i : i + 500])
        fill_ms = (time.perf_counter() - fill_started) * 1000
        contact = await resolve_contact(ctx, IdentifierKind.EMAIL, "customer7@example.com")
        assert contact is not None
        erase_ms, result = await timed(erase_contact(ctx, contact, requested_by="bench"))
        again_ms, _ = await timed(erase_contact(ctx, contact, requested_by="bench"))
        policy = RetentionPolicy(keep_text=timedelta(days=365))
        idle_ms, _ = await timed(apply_retention(ctx, policy))
        async with ctx.uow() as uow:  # every conversation resolved long ago
            await uow.session.execute(
                update(Conversation).values(
                    status="resolved", resolved_at=start - timedelta(days=400)
                )
            )
            await uow.commit()
        full_ms, blanked = await timed(apply_retention(ctx, policy))
        await engine.dispose()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "customers": customers,
        "mails_per_customer": mails,
        "interactions": customers * mails,
        "fill_ms": round(fill_ms),
        "erase_one_contact_ms": round(erase_ms, 1),
        "erased": {r.store: r.erased for r in result.stores},  # type: ignore[attr-defined]
        "erase_again_ms": round(again_ms, 1),
        "retention_pass_nothing_old_ms": round(idle_ms, 1),
        "retention_pass_everything_old_ms": round(full_ms, 1),
        "retention_conversations_blanked": blanked.conversations,  # type: ignore[attr-defined]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--mails", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    figures = asyncio.run(run(args.customers, args.mails, args.database_url))
    write_result("privacy_router", figures)


if __name__ == "__main__":
    main()
