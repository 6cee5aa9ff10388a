"""Composition root of the process: settings, logging, dev samples, uvicorn."""

from __future__ import annotations

import logging
from functools import partial

import uvicorn

from libs.common.logging import configure_logging
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


def main() -> None:
    base = PhoneLogSettings()
    configure_logging(base.service_name, level=base.log_level, fmt=base.log_format)
    settings = load_settings()
    ids = ", ".join(f"{i.provider}/{i.id}" for i in settings.integrations) or "none"
    log.info("phone_log on %s:%d; integrations: %s", settings.http_host, settings.http_port, ids)
    uvicorn.run(
        partial(create_app, settings),
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,  # the CTI path carries a token; rejections are logged without it
    )
