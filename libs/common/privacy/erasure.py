"""What an erasure request is, and what each store answers to it.

``omnidesk privacy forget`` and every service's consumer of
``support.privacy.v1`` speak this: a :class:`ContactErased` in, one
:class:`StoreReport` per store out. A store reports how much it looked at and
how much it erased, so an operator (or an auditor) sees that a second run
erased nothing because nothing was left, not because nothing was looked at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from libs.common.events.privacy import ContactErased, IdentifierHash
from libs.common.ids import deterministic_id
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind


@dataclass(frozen=True, slots=True)
class StoreReport:
    store: str  # e.g. "email_ingest.handled_message", "email_ingest.blobs"
    checked: int  # rows or files looked at
    erased: int  # rows or files erased (or scrubbed) by this request
    unit: str = "rows"
    note: str = ""


class Eraser(Protocol):
    """One place that holds personal data and can erase it on request."""

    name: str

    async def erase(self, request: ContactErased) -> list[StoreReport]: ...


class WrongHashKey(ValueError):
    """The request was hashed under another PRIVACY_HASH_KEY: it can match nothing here."""


def check_hash_key(request: ContactErased, hasher: IdentifierHasher) -> None:
    if request.hash_key_id != hasher.key_id:
        raise WrongHashKey(
            f"erasure {request.tombstone_id} was hashed under key {request.hash_key_id},"
            f" this store hashes under {hasher.key_id}: set the same PRIVACY_HASH_KEY everywhere"
        )


def erasure_request(
    hasher: IdentifierHasher,
    *,
    identifiers: Iterable[tuple[IdentifierKind, str]],
    contact_id: str | None,
    requested_by: str,
    erased_at: datetime,
) -> ContactErased:
    """The event for these identifiers; the same identifiers give the same tombstone."""
    hashes = sorted(
        {(kind, hasher.digest(kind, value)) for kind, value in identifiers},
        key=lambda pair: (pair[0].value, pair[1]),
    )
    if not hashes and not contact_id:
        raise ValueError("name at least one identifier or a contact id")
    # The router's contact ids are UUIDv5 of the customer's identifiers: an
    # unkeyed tombstone made from one could be recomputed from an e-mail address.
    basis = (
        hasher.keyed("contact", contact_id)
        if contact_id
        else ",".join(digest for _kind, digest in hashes)
    )
    return ContactErased(
        tombstone_id=f"tomb_{deterministic_id('privacy.tombstone', basis)}",
        contact_id=contact_id,
        erased_at=erased_at,
        requested_by=requested_by,
        hash_key_id=hasher.key_id,
        identifiers=[IdentifierHash(kind=kind, hmac_sha256=digest) for kind, digest in hashes],
    )


def erasure_key(request: ContactErased) -> str:
    """The compaction key: the contact id, or the tombstone when the router is not asked."""
    return request.contact_id or request.tombstone_id


def erasure_event_id(request: ContactErased) -> str:
    """Deterministic: publishing the same request twice is one event to its consumers."""
    digests = ",".join(i.hmac_sha256 for i in request.identifiers)
    return deterministic_id("privacy.erased", erasure_key(request), digests)
