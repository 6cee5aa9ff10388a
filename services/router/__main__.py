"""``python -m services.router``: the REST API, consumer, relay and scheduler in one process."""

from __future__ import annotations

import uvicorn

from libs.common.gc_tuning import tune_for_polls
from libs.common.logging import configure_logging
from libs.common.memory import glibc, tune_allocator
from services.router.app import create_app
from services.router.settings import RouterSettings


def main() -> None:
    settings = RouterSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    tune_allocator(glibc(), settings)  # before the database threads exist
    app = create_app(settings)
    tune_for_polls()  # the process only (tests start many runtimes in one process)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        log_config=None,
    )


if __name__ == "__main__":
    main()
