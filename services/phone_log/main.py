"""Composition root of the process: settings, logging, dev samples, uvicorn (PHONE_LOG_WORKERS
processes)."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from libs.common.logging import configure_logging
from libs.common.webhooks.serve import serve
from services.phone_log.app import create_app
from services.phone_log.settings import PhoneLogSettings

log = logging.getLogger("services.phone_log")


def load_settings() -> PhoneLogSettings:
    settings = PhoneLogSettings()
    if settings.integrations or not settings.dev_samples:
        return settings
    log.warning(
        "no PHONE_LOG_INTEGRATIONS configured: using sample dev integrations "
        "(dev-twilio, dev-asterisk, dev-freeswitch, dev-cti) with well-known secrets; "
        "set PHONE_LOG_DEV_SAMPLES=false in production"
    )
    return settings.with_dev_samples()


def worker_app() -> FastAPI:
    """The app of one server process; uvicorn imports this by name in every worker."""
    base = PhoneLogSettings()
    configure_logging(base.service_name, level=base.log_level, fmt=base.log_format)
    return create_app(load_settings())


def main() -> None:
    base = PhoneLogSettings()
    configure_logging(base.service_name, level=base.log_level, fmt=base.log_format)
    settings = load_settings()
    ids = ", ".join(f"{i.provider}/{i.id}" for i in settings.integrations) or "none"
    log.info(
        "phone_log on %s:%d (%d worker process%s); integrations: %s",
        settings.http_host,
        settings.http_port,
        settings.workers,
        "" if settings.workers == 1 else "es",
        ids,
    )
    serve(
        "services.phone_log.main:worker_app",
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.workers,
    )
