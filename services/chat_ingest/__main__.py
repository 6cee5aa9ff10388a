"""``python -m services.chat_ingest``: uvicorn serving ``create_app`` on CHAT_INGEST_HTTP_PORT."""

from __future__ import annotations

import uvicorn

from libs.common.logging import configure_logging
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.settings import ChatIngestSettings


def main() -> None:
    settings = ChatIngestSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        create_app(settings),  # serves settings.served_integrations(); says so at start
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep our JSON logging
        access_log=False,
        proxy_headers=False,  # the public URL is rebuilt by our own trusted-proxy setting
    )


if __name__ == "__main__":
    main()
