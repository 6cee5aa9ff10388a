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

from typing import Annotated, Any

import uvicorn
from pydantic import Field

from libs.common.webhooks.one_write import OneWriteHttpToolsProtocol

#: What every webhook server runs with, whatever the service.
SERVER_OPTIONS: dict[str, Any] = {
    "loop": "auto",  # uvloop when installed
    # httptools (installed via uvicorn[standard]), each response in one socket write
    "http": OneWriteHttpToolsProtocol,
    "log_config": None,  # keep the service's JSON logging
    "access_log": False,  # webhook paths and queries can carry tokens
    # No uvicorn ProxyHeadersMiddleware: it took the scheme and client from
    # X-Forwarded-* of any 127.0.0.1 peer, whatever the service's own trusted-proxy
    # setting says (public_url rebuilds the URL Twilio signs only when that allows),
    # and it is one more coroutine a request crosses and resumes at the Kafka ack
    # (bench.http_ceiling_callgrind, 1,000 requests: 136.8 -> 129.9 K instructions a request).
    "proxy_headers": False,
    # No ``server: uvicorn`` header: it names the server to anyone who asks, and each
    # header of an answer is checked by two regular expressions, lower-cased and compared
    # by uvicorn's ``send`` before it is written. The ``date`` header stays (RFC 9110).
    "server_header": False,
}

#: Seconds an idle keep-alive connection stays open (uvicorn's own default: 5). Longer
#: than the idle timeout of what usually sits in front (nginx's upstream keepalive and
#: AWS ALB 60 s, Heroku's router 90 s), so that the client side, not this server, closes
#: idle connections: a server closing one just as the client reuses it fails that request
#: (a proxy answers 502; a provider must retry the webhook). Go's HTTP client (vegeta,
#: the benches' load generator) keeps idle connections without limit, like such a proxy.
DEFAULT_KEEP_ALIVE_S = 95

#: The webhook services' keep-alive setting (``CHAT_INGEST_HTTP_KEEP_ALIVE_S``,
#: ``PHONE_LOG_HTTP_KEEP_ALIVE_S``).
KeepAliveSeconds = Annotated[
    int,
    Field(
        ge=1,
        le=3600,
        description="Seconds an idle HTTP keep-alive connection stays open. Keep it above the "
        "idle timeout of the proxy or load balancer in front (nginx, AWS ALB: 60 s), so that "
        "they close idle connections, not this server (libs/common/webhooks/serve.py).",
    ),
]


def server_options(
    *,
    host: str,
    port: int,
    workers: int = 1,
    keep_alive_s: int = DEFAULT_KEEP_ALIVE_S,
    **options: Any,
) -> dict[str, Any]:
    """uvicorn's options for a webhook server: ``SERVER_OPTIONS``, then ``options``."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    settings = {
        **SERVER_OPTIONS,
        "timeout_keep_alive": keep_alive_s,
        **options,
        "host": host,
        "port": port,
    }
    if workers > 1:
        settings["workers"] = workers
    return settings


def serve(
    factory: str,
    *,
    host: str,
    port: int,
    workers: int = 1,
    keep_alive_s: int = DEFAULT_KEEP_ALIVE_S,
    **options: Any,
) -> None:
    """Serve the app ``factory()`` builds ("module:function", from the environment alone)
    in this process, or in ``workers`` processes that each import and call it."""
    settings = server_options(
        host=host, port=port, workers=workers, keep_alive_s=keep_alive_s, **options
    )
    uvicorn.run(factory, factory=True, **settings)
