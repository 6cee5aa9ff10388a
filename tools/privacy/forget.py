"""``omnidesk privacy forget``: one erasure request, every store it can reach.

The steps, in order: the request is published on ``support.privacy.v1``
(durable first: a store that is down or elsewhere erases when its consumer
gets to it), then each eraser reachable from here erases and reports. Issue
#18 part 2 puts the router in front (``DELETE /contacts/{id}``: it resolves a
contact id to its identifiers, owns the tombstone and publishes the event
from its outbox): one more entry in ``ERASERS`` and a publisher that is the
router instead of this command.

Each store gives a function (tooling may import services) that returns an
eraser, or None when that store's state is not on this machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from libs.common.events.privacy import ContactErased, IdentifierHash
from libs.common.privacy.erasure import Eraser, StoreReport
from libs.common.privacy.identifiers import IdentifierKind
from services.email_ingest.privacy import local_eraser as email_ingest_eraser
from tools.privacy.router_eraser import RouterEraser, RouterErasure

#: A store's eraser on this machine, or None when that store's state is elsewhere.
EraserFactory = Callable[[], Eraser | None]

#: (store, factory) in the order they are asked.
ERASERS: tuple[tuple[str, EraserFactory], ...] = (("email_ingest", email_ingest_eraser),)

Publisher = Callable[[ContactErased], Awaitable[None]]
NO_IDENTIFIER = (
    "no identifier given: stores that match by identifier find nothing until the"
    " router resolves the contact (issue #18 part 2)"
)


@dataclass(slots=True)
class ForgetReport:
    request: ContactErased
    published: bool = False
    router: RouterErasure | None = None
    stores: list[StoreReport] = field(default_factory=list)
    #: Stores not on this machine: their consumers of support.privacy.v1 erase.
    elsewhere: list[str] = field(default_factory=list)

    @property
    def erased(self) -> int:
        return sum(report.erased for report in self.stores)


def load_erasers(
    factories: tuple[tuple[str, EraserFactory], ...] = ERASERS,
) -> tuple[list[Eraser], list[str]]:
    """The erasers reachable here, and the names of the stores that are not."""
    found: list[Eraser] = []
    elsewhere: list[str] = []
    for store, factory in factories:
        eraser = factory()
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
    router: RouterEraser | None = None,
    identifiers: Sequence[tuple[IdentifierKind, str]] = (),
) -> ForgetReport:
    """With a router: it resolves and erases the contact and publishes the request
    itself (from its outbox); this command publishes only for identifiers the router
    holds no contact for, and erases its local stores with every hash the router
    returned (the contact's other identities too)."""
    report = ForgetReport(request, elsewhere=list(elsewhere))
    if router is not None:
        report.router = await router.erase(list(identifiers), request.contact_id)
        report.stores.extend(report.router.stores)
        covered = report.router.contact_ids and not report.router.unresolved
        request = _with_hashes(request, report.router.hashes)
        if covered and len(report.router.tombstones) == 1:
            # One contact: the local stores erase under the router's tombstone too.
            request = request.model_copy(
                update={
                    "tombstone_id": report.router.tombstones[0],
                    "contact_id": report.router.contact_ids[0],
                }
            )
        report.request = request
        if covered:
            publish = None
    if publish is not None:
        await publish(request)
        report.published = True
    for eraser in erasers:
        report.stores.extend(await eraser.erase(request))
    return report


def _with_hashes(request: ContactErased, hashes: Sequence[IdentifierHash]) -> ContactErased:
    known = {(i.kind, i.hmac_sha256) for i in request.identifiers}
    extra = [h for h in hashes if (h.kind, h.hmac_sha256) not in known]
    return request.model_copy(update={"identifiers": [*request.identifiers, *extra]})


def _published_line(report: ForgetReport, topic: str) -> str:
    router = report.router
    parts = []
    if router is not None:
        for contact, tombstone in zip(router.contact_ids, router.tombstones, strict=True):
            parts.append(f"router erased contact {contact} -> {tombstone}")
        if router.published:
            parts.append(f"router published {len(router.published)} request(s) on {topic}")
        if router.unresolved:
            parts.append(f"{len(router.unresolved)} identifier(s) unknown to the router")
    if report.published:
        parts.append("published on " + topic)
    elif router is None:
        parts.append("not published (--no-publish)")
    return "; ".join(parts) or "nothing published"


def render(report: ForgetReport, *, topic: str) -> list[str]:
    """The operator's table: one line per store, then what it amounts to."""
    request = report.request
    lines = [
        f"tombstone {request.tombstone_id}"
        + (f" (contact {request.contact_id})" if request.contact_id else "")
        + f": {len(request.identifiers)} identifier hash(es)",
        _published_line(report, topic),
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
