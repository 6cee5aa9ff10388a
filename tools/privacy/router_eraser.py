"""The router as the first store ``omnidesk privacy forget`` asks (issue #18 part 2).

The router knows which identifiers belong to one contact: given an e-mail it
finds the contact (``POST /contacts/resolve``, the identifier stays out of
URLs) and erases it (``DELETE /contacts/{id}``), which also publishes the
``ContactErased`` for every other store from the router's outbox, with the
hashes of all the contact's identities (the phone and handle the operator may
not have named). The command then erases its local stores with those hashes
too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from libs.common.events.privacy import IdentifierHash
from libs.common.privacy.erasure import StoreReport
from libs.common.privacy.identifiers import IdentifierKind


class RouterRefused(RuntimeError):
    """The router answered with an error: nothing is assumed erased there."""


@dataclass(slots=True)
class RouterErasure:
    contact_ids: list[str] = field(default_factory=list)
    tombstones: list[str] = field(default_factory=list)
    #: Hashes of every identity of the erased contacts (more than the operator named).
    hashes: list[IdentifierHash] = field(default_factory=list)
    #: Identifiers the router knows no contact for (never held, or already erased).
    unresolved: list[tuple[IdentifierKind, str]] = field(default_factory=list)
    #: ContactErased events the router published now (none when all were erased before).
    published: list[str] = field(default_factory=list)
    stores: list[StoreReport] = field(default_factory=list)


class RouterEraser:
    def __init__(
        self, base_url: str, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key}
        self._transport = transport

    async def erase(
        self,
        identifiers: list[tuple[IdentifierKind, str]],
        contact_id: str | None,
    ) -> RouterErasure:
        result = RouterErasure()
        async with httpx.AsyncClient(
            base_url=self._base_url, headers=self._headers, transport=self._transport, timeout=30
        ) as client:
            contacts = [contact_id] if contact_id else []
            for kind, value in identifiers:
                found = await self._call(
                    client, "POST", "/contacts/resolve", json={"kind": kind.value, "value": value}
                )
                owner = found["contact_id"]
                if owner is None:
                    result.unresolved.append((kind, value))
                elif owner not in contacts:
                    contacts.append(owner)
            for contact in contacts:
                erased = await self._call(client, "DELETE", f"/contacts/{contact}")
                result.contact_ids.append(contact)
                result.tombstones.append(erased["tombstone_id"])
                result.hashes += [IdentifierHash(**h) for h in erased["identifier_hashes"]]
                if erased["event_id"]:
                    result.published.append(erased["event_id"])
                result.stores += [
                    StoreReport(s["store"], s["checked"], s["erased"], s["unit"], s["note"])
                    for s in erased["stores"]
                ]
        return result

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, **kwargs: object
    ) -> dict[str, object]:
        try:
            response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise RouterRefused(f"router at {self._base_url} unreachable: {exc!r}") from exc
        if response.status_code >= 400:
            raise RouterRefused(
                f"router {method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        body: dict[str, object] = response.json()
        return body
