"""``python -m services.notifier``: consume routing events and notify until SIGTERM."""

from __future__ import annotations

import gc
import logging

from libs.common.lifecycle import run_until_stopped
from libs.common.logging import configure_logging
from services.notifier.bootstrap import run
from services.notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    # httpx logs each request URL at INFO; webhook URLs carry tokens (Slack).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # What start-up built (SQLAlchemy's, pydantic's and aiokafka's structures: ~120,000
    # objects) lives as long as the process: out of the collector's way, so a full
    # collection no longer walks it — 3 of them cost ~35 µs per notice of the
    # ~500 µs in bench/notify_throughput. Here, not in run(): tests run notifiers inside
    # the test process (services.router.gc_tuning does the same for the router).
    gc.collect()
    gc.freeze()
    run_until_stopped(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
