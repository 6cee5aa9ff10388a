"""The HTTP ceiling of the webhook benchmark: a bare ASGI app on the same server.

``bench/webhook_load.py`` drives this with the same load generator and the
same signed POSTs it sends the webhook services; the app reads each body and
answers 202 with a small JSON body, doing no other work. It is served by
:func:`libs.common.webhooks.serve.serve` — the very function, server options
and worker count the services use — so the gap between its figures and a
service's is what the service itself costs per request.

    BENCH_CEILING_HTTP_PORT=8099 BENCH_CEILING_WORKERS=1 python -m bench.http_ceiling
"""

from __future__ import annotations

import os
from typing import Any

from libs.common.webhooks.serve import serve

Message = dict[str, Any]

ANSWER = b'{"accepted":1,"duplicates":0,"ignored":0}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]


async def bare_app(scope: Message, receive: Any, send: Any) -> None:
    """202 to every POST after reading its body; 200 to anything else (the readiness poll)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # read the whole body, as a webhook must before it can verify it
        message = await receive()
        more = message.get("more_body", False)
    status = 202 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


def create_app() -> Any:
    return bare_app


def main() -> None:
    serve(
        "bench.http_ceiling:create_app",
        host="127.0.0.1",
        port=int(os.environ["BENCH_CEILING_HTTP_PORT"]),
        workers=int(os.environ.get("BENCH_CEILING_WORKERS", "1")),
    )


if __name__ == "__main__":
    main()
