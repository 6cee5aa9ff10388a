"""``python -m services.email_ingest``: run the mailbox watchers until SIGTERM."""

from __future__ import annotations

import asyncio

from libs.common.lifecycle import run_until_stopped
from libs.common.logging import configure_logging
from services.email_ingest.bootstrap import run_service
from services.email_ingest.settings import EmailIngestSettings


def main() -> None:
    settings = EmailIngestSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)

    async def _main(stop: asyncio.Event) -> None:
        await run_service(settings, stop)

    run_until_stopped(_main)


if __name__ == "__main__":
    main()
