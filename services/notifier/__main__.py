"""``python -m services.notifier``: consume routing events and notify until SIGTERM."""

from __future__ import annotations

import asyncio
import logging

import uvloop

from libs.common.gc_tuning import tune_for_polls
from libs.common.lifecycle import run_until_stopped
from libs.common.logging import configure_logging
from services.notifier.bootstrap import run
from services.notifier.settings import EventLoop, NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    # httpx logs each request URL at INFO; webhook URLs carry tokens (Slack).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # here, not in run(): tests run notifiers inside their process. With CPython's 700
    # the collector ran ~140 times a second in a backlog: GC was ~10 % of the notifier's
    # CPU, 47.7 CPU-µs per interaction → 6.2 (gc_tuning).
    tune_for_polls()
    use_event_loop(settings.event_loop)
    run_until_stopped(lambda stop: run(settings, stop))


def use_event_loop(kind: EventLoop) -> None:
    """The loop ``asyncio.run`` creates from here on. uvloop: every mail is a few
    futures, callbacks and a socket write and read on the loop, and a poll's Kafka
    fetch, produce and sent-log round trips more; in libuv's C loop the whole notice
    path took 5 % fewer instructions per outcome (callgrind, the backlog mix in process,
    1,180 K → 1,117 K) and more in the service, where aiokafka runs on it too."""
    if kind is EventLoop.UVLOOP:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    main()
