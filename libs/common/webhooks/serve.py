"""Serving a webhook app with uvicorn, in one process or in N worker processes.

Both webhook services (and the benchmark's bare HTTP ceiling app) start through
here, so they run on the same server with the same options: uvicorn picks
uvloop and httptools when installed (they are, via ``uvicorn[standard]``), our
own JSON logging instead of uvicorn's, no access log (webhook URLs can carry
tokens), and uvicorn's httptools protocol writing each response (headers and
body) in one socket write instead of two (``one_write.py``).

One process is CPU-bound near what one core does (see ``docs/performance.md``);
more throughput comes from more processes. With ``workers > 1`` uvicorn's
process manager binds the port once and starts that many worker processes,
each importing ``factory`` ("module:function") and building its own app: its
own settings, logging and Kafka producer. Nothing is shared between workers
that correctness needs — the recently-acked LRU is a per-process shortcut and
consumers dedupe on the event id — so requests may land on any worker.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from libs.common.webhooks.one_write import OneWriteHttpToolsProtocol

#: What every webhook server runs with, whatever the service.
SERVER_OPTIONS: dict[str, Any] = {
    "loop": "auto",  # uvloop when installed
    # httptools (installed via uvicorn[standard]), each response in one socket write
    "http": OneWriteHttpToolsProtocol,
    "log_config": None,  # keep the service's JSON logging
    "access_log": False,  # webhook paths and queries can carry tokens
}


def serve(factory: str, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """Serve the app ``factory()`` builds ("module:function", from the environment alone)
    in this process, or in ``workers`` processes that each import and call it."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    settings = {**SERVER_OPTIONS, **options, "host": host, "port": port}
    if workers > 1:
        settings["workers"] = workers
    uvicorn.run(factory, factory=True, **settings)
