"""``omnidesk privacy forget``: one erasure request, every store it can reach.

The steps, in order: the request is published on ``support.privacy.v1``
(durable first: a store that is down or elsewhere erases when its consumer
gets to it), then each eraser reachable from here erases and reports. Issue
#18 part 2 puts the router in front (``DELETE /contacts/{id}``: it resolves a
contact id to its identifiers, owns the tombstone and publishes the event
from its outbox): one more entry in ``ERASERS`` and a publisher that is the
router instead of this command.

Stores are named by ``module:function`` and imported only when the command
runs, so ``libs`` imports no service at import time. A function returns an
eraser, or None when that store's state is not on this machine.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from libs.common.events.privacy import ContactErased
from libs.common.privacy.erasure import Eraser, StoreReport

#: (store, factory) in the order they are asked.
ERASERS: tuple[tuple[str, str], ...] = (
    ("email_ingest", "services.email_ingest.privacy:local_eraser"),
)

Publisher = Callable[[ContactErased], Awaitable[None]]
NO_IDENTIFIER = (
    "no identifier given: stores that match by identifier find nothing until the"
    " router resolves the contact (issue #18 part 2)"
)


@dataclass(slots=True)
class ForgetReport:
    request: ContactErased
    published: bool = False
    stores: list[StoreReport] = field(default_factory=list)
    #: Stores not on this machine: their consumers of support.privacy.v1 erase.
    elsewhere: list[str] = field(default_factory=list)

    @property
    def erased(self) -> int:
        return sum(report.erased for report in self.stores)


def load_erasers(
    factories: tuple[tuple[str, str], ...] = ERASERS,
) -> tuple[list[Eraser], list[str]]:
    """The erasers reachable here, and the names of the stores that are not."""
    found: list[Eraser] = []
    elsewhere: list[str] = []
    for store, target in factories:
        module_name, _, function = target.partition(":")
        eraser = getattr(importlib.import_module(module_name), function)()
        if eraser is None:
            elsewhere.append(store)
        else:
            found.append(eraser)
    return found, elsewhere


async def forget(
    request: ContactErased,
    *,
    publish: Publisher | None,
    erasers: list[Eraser],
    elsewhere: Sequence[str] = (),
) -> ForgetReport:
    report = ForgetReport(request, elsewhere=list(elsewhere))
    if publish is not None:
        await publish(request)
        report.published = True
    for eraser in erasers:
        report.stores.extend(await eraser.erase(request))
    return report


def render(report: ForgetReport, *, topic: str) -> list[str]:
    """The operator's table: one line per store, then what it amounts to."""
    request = report.request
    lines = [
        f"tombstone {request.tombstone_id}"
        + (f" (contact {request.contact_id})" if request.contact_id else "")
        + f": {len(request.identifiers)} identifier hash(es)",
        "published on " + topic if report.published else "not published (--no-publish)",
        f"{'store':<34} {'checked':>9} {'erased':>7}  note",
    ]
    if not request.identifiers:
        lines.insert(2, NO_IDENTIFIER)
    for store in report.stores:
        lines.append(
            f"{store.store:<34} {store.checked:>9} {store.erased:>7}  {store.unit}"
            + (f"; {store.note}" if store.note else "")
        )
    for store in report.elsewhere:
        lines.append(f"{store:<34} {'-':>9} {'-':>7}  not on this machine: its consumer erases")
    if report.stores and report.erased == 0:
        lines.append("nothing left to erase here: already erased, or never held")
    return lines
