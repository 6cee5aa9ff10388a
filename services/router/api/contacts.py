"""/contacts: erasure of a contact's personal data (issue #18, supervisors)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from libs.common.events.privacy import IdentifierHash
from libs.common.privacy.erasure import erasure_event_id
from libs.common.privacy.identifiers import IdentifierKind, normalise
from services.router.api.audit import request_entry
from services.router.api.deps import ContextDep, SupervisorKey, caller_name
from services.router.service.erasure import erase_contact, resolve_contact

router = APIRouter(prefix="/contacts", tags=["contacts"])


class StoreReportRead(BaseModel):
    store: str
    checked: int
    erased: int
    unit: str
    note: str


class ErasureRead(BaseModel):
    contact_id: str
    tombstone_id: str
    already_erased: bool
    identifiers: int  # how many identifier hashes the published request carries
    #: The keyed hashes of the erased identities (no identifier): other stores match on them.
    identifier_hashes: list[IdentifierHash]
    event_id: str | None  # the ContactErased event, None when nothing new was published
    stores: list[StoreReportRead]


class ResolveRequest(BaseModel):
    kind: IdentifierKind
    value: str


class ResolveRead(BaseModel):
    contact_id: str | None


@router.post(
    "/resolve", response_model=ResolveRead, summary="The contact owning an e-mail, phone or handle"
)
async def resolve(body: ResolveRequest, ctx: ContextDep, _: SupervisorKey) -> ResolveRead:
    # A POST: the identifier stays out of URLs and access logs.
    value = normalise(body.kind, body.value)
    return ResolveRead(contact_id=await resolve_contact(ctx, body.kind, value))


@router.delete(
    "/{contact_id}",
    response_model=ErasureRead,
    summary="Erase a contact's personal data; aggregates stay under a tombstone",
    responses={
        404: {"description": "No such contact"},
        409: {"description": "PRIVACY_HASH_KEY not set in the router"},
    },
)
async def delete_contact(
    contact_id: str, request: Request, ctx: ContextDep, key: SupervisorKey
) -> ErasureRead:
    entry = request_entry(request, ctx, key)
    result = await erase_contact(ctx, contact_id, requested_by=caller_name(key), audit=entry)
    request.state.audited = not result.already  # a repeat is recorded by the middleware
    return ErasureRead(
        contact_id=contact_id,
        tombstone_id=result.request.tombstone_id,
        already_erased=result.already,
        identifiers=len(result.request.identifiers),
        identifier_hashes=result.request.identifiers,
        event_id=None if result.already else erasure_event_id(result.request),
        stores=[StoreReportRead(**vars_of(s)) for s in result.stores],
    )


def vars_of(report: object) -> dict[str, object]:
    return {name: getattr(report, name) for name in ("store", "checked", "erased", "unit", "note")}
