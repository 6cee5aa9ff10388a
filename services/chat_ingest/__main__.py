"""``python -m services.chat_ingest``: uvicorn serving ``create_app`` on CHAT_INGEST_HTTP_PORT."""

from __future__ import annotations

import logging

import uvicorn

from libs.common.logging import configure_logging
from libs.providers.integrations import DEV_SECRET, dev_integrations
from services.chat_ingest.app import create_app
from services.chat_ingest.settings import ChatIngestSettings

log = logging.getLogger("services.chat_ingest")


def settings_for_run() -> ChatIngestSettings:
    settings = ChatIngestSettings()
    if settings.all_integrations() or not settings.dev_integrations_when_empty:
        return settings
    log.warning(
        "no integrations configured (CHAT_INGEST_INTEGRATIONS / CHAT_INGEST_INTEGRATIONS_FILE): "
        "serving DEVELOPMENT integrations id 'dev' for every provider with the PUBLIC secret %r. "
        "Never expose this; set CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY=false in production.",
        DEV_SECRET,
    )
    return settings.model_copy(update={"integrations": dev_integrations()})


def main() -> None:
    settings = ChatIngestSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    settings = settings_for_run()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep our JSON logging
        access_log=False,
        proxy_headers=False,  # the public URL is rebuilt by our own trusted-proxy setting
    )


if __name__ == "__main__":
    main()
