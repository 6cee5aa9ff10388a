"""email_ingest's side of ``support.privacy.v1``: erase what a request names.

The consumer runs inside the service (composition root: ``service.py``);
``local_eraser`` is what ``omnidesk privacy forget`` uses when this machine
holds the service's state. Both do the same idempotent erasure.
"""

from __future__ import annotations

import logging

from libs.common.blobstore import BlobStore
from libs.common.events.privacy import ContactErased
from libs.common.kafka.consumer import ConsumerRunner
from libs.common.kafka.producer import EventProducer
from libs.common.privacy.consumer import erasure_consumer as shared_erasure_consumer
from libs.common.privacy.erasure import StoreReport
from libs.common.privacy.identifiers import IdentifierHasher
from services.email_ingest.checkpoint import CheckpointStore
from services.email_ingest.erasure import STORE, EmailIngestEraser
from services.email_ingest.settings import EmailIngestSettings

log = logging.getLogger(__name__)

STAGE = "email_ingest.privacy"


def erasure_consumer(
    settings: EmailIngestSettings, *, producer: EventProducer, eraser: EmailIngestEraser
) -> ConsumerRunner:
    return shared_erasure_consumer(
        settings.kafka,
        group_id=f"{settings.service_name}.privacy",
        stage=STAGE,
        producer=producer,
        eraser=eraser,
    )


class LocalEmailIngestEraser:
    """The service's SQLite file and blob folder on this machine, opened per request."""

    name = STORE

    def __init__(self, settings: EmailIngestSettings, hasher: IdentifierHasher) -> None:
        self._settings = settings
        self._hasher = hasher

    async def erase(self, request: ContactErased) -> list[StoreReport]:
        checkpoints = CheckpointStore(self._settings.checkpoint_path)
        checkpoints.open()
        try:
            eraser = EmailIngestEraser(
                checkpoints=checkpoints,
                blobs=BlobStore(self._settings.blob_root),
                hasher=self._hasher,
            )
            return await eraser.erase(request)
        finally:
            checkpoints.close()


def local_eraser() -> LocalEmailIngestEraser | None:
    """For ``omnidesk privacy forget``: None when this machine has no email_ingest state."""
    settings = EmailIngestSettings()
    hasher = settings.privacy.hasher()
    if hasher is None or not settings.checkpoint_path.exists():
        return None
    return LocalEmailIngestEraser(settings, hasher)
