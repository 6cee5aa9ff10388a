"""``python -m services.chat_ingest``: uvicorn serving ``create_app`` on CHAT_INGEST_HTTP_PORT,
in CHAT_INGEST_WORKERS processes."""

from __future__ import annotations

from starlette.types import ASGIApp

from libs.common.gc_tuning import collect_young_less_often, freeze_startup_objects
from libs.common.logging import configure_logging
from libs.common.webhooks.fastpath import served_app
from libs.common.webhooks.serve import serve
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.settings import ChatIngestSettings


def worker_app() -> ASGIApp:
    """The app of one server process, as the server calls it (``served_app``: webhook POSTs
    straight to the fast path); uvicorn imports this by name in every worker."""
    settings = ChatIngestSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    app = create_app(settings)  # serves settings.served_integrations(); says so at start
    # Here, not in create_app: tests build many apps in one process. A full collection
    # walked the ~90,000 objects of the imports and the app (~5 µs per request).
    freeze_startup_objects()
    # At 700 the youngest generation was collected every ~40 requests at 500/s, and every
    # tenth of those walked the middle one, every ~5,000th request the whole heap:
    # ~15 CPU-µs a request (gc.callbacks, thread time). See the README's Performance.
    collect_young_less_often()
    return served_app(app)


def main() -> None:
    settings = ChatIngestSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    serve(
        "services.chat_ingest.__main__:worker_app",
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.workers,
        keep_alive_s=settings.http_keep_alive_s,
        proxy_headers=False,  # the public URL is rebuilt by our own trusted-proxy setting
    )


if __name__ == "__main__":
    main()
