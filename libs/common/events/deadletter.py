"""Dead letters on ``support.deadletter.v1``.

The record's value is the original bytes, unchanged, and its headers are the
original headers plus ``dlq_*`` headers that say what failed where. Any tool
can read the original; the replay command strips the ``dlq_*`` headers and
sends the record back to its topic. Ingest services that reject raw input
(an unparseable mail, a body too large for Kafka) put the bytes in the blob
store and name it in ``dlq_blob``.
"""

from __future__ import annotations

from pydantic import Field

from libs.common.events.base import UtcDatetime, ValueModel

DLQ_HEADER_PREFIX = "dlq_"


class DeadLetter(ValueModel):
    stage: str = Field(..., description="Which consumer or ingest step failed, e.g. router.handle.")
    error_type: str
    error: str = Field(..., description="Message of the last error (no secrets, no bodies).")
    attempts: int = Field(..., ge=0)
    failed_at: UtcDatetime
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    source: str | None = Field(None, description="Non-Kafka origin, e.g. imap:support@x/INBOX/42.")
    blob: str | None = Field(None, description="sha256 of raw bytes kept in the blob store.")

    def to_headers(self) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for name, value in self.model_dump(mode="json", exclude_none=True).items():
            out.append((DLQ_HEADER_PREFIX + name, str(value).encode()))
        return out

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]]) -> DeadLetter:
        values = {
            k[len(DLQ_HEADER_PREFIX) :]: v.decode("utf-8", "replace")
            for k, v in headers
            if k.startswith(DLQ_HEADER_PREFIX)
        }
        return cls.model_validate(values)


def strip_dead_letter_headers(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in headers if not k.startswith(DLQ_HEADER_PREFIX)]
