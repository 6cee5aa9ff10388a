"""``python -m services.phone_log``: serve the webhooks with uvicorn."""

from __future__ import annotations

import logging
from functools import partial

import uvicorn

from libs.common.logging import configure_logging
from services.phone_log.bootstrap import create_app, load_settings
from services.phone_log.settings import PhoneLogSettings

log = logging.getLogger("services.phone_log")


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


if __name__ == "__main__":
    main()
