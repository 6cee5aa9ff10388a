"""``python -m services.phone_log``: serve the webhooks with uvicorn in PHONE_LOG_WORKERS
processes."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp

from libs.common.gc_tuning import collect_young_less_often, freeze_startup_objects
from libs.common.logging import configure_logging
from libs.common.webhooks.fastpath import served_app
from libs.common.webhooks.serve import serve
from services.phone_log.bootstrap import create_app, load_settings
from services.phone_log.settings import PhoneLogSettings

log = logging.getLogger("services.phone_log")


def worker_app() -> ASGIApp:
    """The app of one server process, as the server calls it (``served_app``: webhook POSTs
    straight to the fast path); uvicorn imports this by name in every worker."""
    base = PhoneLogSettings()
    configure_logging(base.service_name, level=base.log_level, fmt=base.log_format)
    app = create_app(load_settings())
    # As chat_ingest's worker: a full collection otherwise walks every object the
    # imports and the app built, a pause of several ms that lands in the p99.
    freeze_startup_objects()
    # And its youngest generation collected less often, as chat_ingest's (its README).
    collect_young_less_often()
    return served_app(app)


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
        "services.phone_log.__main__:worker_app",
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.workers,
        keep_alive_s=settings.http_keep_alive_s,
    )


if __name__ == "__main__":
    main()
