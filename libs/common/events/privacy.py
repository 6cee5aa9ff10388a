"""The erasure contract on ``support.privacy.v1`` (compacted, key: contact id).

Compaction keeps the latest record per contact for ever, so ``ContactErased``
carries no personal data: a tombstone id, when, who asked, and the erased
identifiers as keyed hashes (``libs.common.privacy.identifiers``). Every
service that keeps personal data consumes the topic, hashes what it holds and
erases what matches; handling the same record twice erases nothing more.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from libs.common.events.base import EventModel, UtcDatetime, ValueModel
from libs.common.privacy.identifiers import IdentifierKind


class IdentifierHash(ValueModel):
    kind: IdentifierKind
    hmac_sha256: str = Field(
        ..., pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of '<kind>:<normalised value>'."
    )


class ContactErased(EventModel):
    """A contact's personal data is to be erased everywhere; aggregates stay."""

    ce_type: ClassVar[str] = "support.privacy.contact.erased"

    tombstone_id: str = Field(..., description="Replaces the contact wherever aggregates stay.")
    contact_id: str | None = Field(None, description="The router's contact id, when known.")
    erased_at: UtcDatetime
    requested_by: str = Field(..., description="Agent id, or 'cli'.")
    hash_key_id: str = Field(
        ..., description="Which PRIVACY_HASH_KEY made the hashes (a digest of it, not the key)."
    )
    identifiers: list[IdentifierHash] = Field(default_factory=list)

    def hashes(self, kind: IdentifierKind) -> set[str]:
        return {i.hmac_sha256 for i in self.identifiers if i.kind is kind}
