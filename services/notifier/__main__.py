"""``python -m services.notifier``: consume routing events and notify until SIGTERM."""

from __future__ import annotations

import logging

from libs.common.gc_tuning import tune_for_polls
from libs.common.lifecycle import run_until_stopped
from libs.common.logging import configure_logging
from libs.common.memory import glibc, tune_allocator
from services.notifier.bootstrap import run, use_event_loop
from services.notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    # httpx logs each request URL at INFO; webhook URLs carry tokens (Slack).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # here, not in run(): tests run notifiers inside their process. With CPython's 700
    # the collector ran ~140 times a second in a backlog: GC was ~10 % of the notifier's
    # CPU, 47.7 CPU-µs per interaction → 6.2 (gc_tuning).
    tune_for_polls()
    tune_allocator(glibc(), settings)  # before the sent-log's and the SMTP pool's threads exist
    use_event_loop(settings.event_loop)
    run_until_stopped(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
