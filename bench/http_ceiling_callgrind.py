"""Instructions per request of the webhook server alone (uvicorn, our protocol, the loop):
``bench/http_ceiling.py``'s bare app under callgrind, requests one at a time.

The server's own share of every webhook request, without the app or Kafka: it runs
``python -m bench.http_ceiling`` (from the current directory, so two source trees
compare) under valgrind with instrumentation off, warms it up, then counts only the
measured requests (``callgrind_control -i on/off``). Requests go one at a time over a
few keep-alive connections, each answer read before the next request, so the work per
request does not depend on the machine's load::

    python -m bench.http_ceiling_callgrind [--requests 1000] [--connections 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.webhook_server_callgrind import _control, _total
from tools.testing.system import free_port

REQUEST = (
    b"POST /webhooks/webchat/bench/messages HTTP/1.1\r\nhost: 127.0.0.1\r\n"
    b"content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
)


async def _wait_listening(port: int, proc: subprocess.Popen[bytes], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        writer.close()
        return
    raise TimeoutError("server did not listen in time")


async def _requests(port: int, count: int, connections: int) -> int:
    opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    answered = 0
    try:
        for n in range(count):
            reader, writer = opened[n % connections]
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            answered += head.startswith(b"HTTP/1.1 202")
    finally:
        for _, writer in opened:
            writer.close()
    return answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    port = free_port()
    out = Path(tempfile.mkdtemp(prefix="http-ceiling-callgrind-")) / "callgrind.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    env = {**os.environ, "BENCH_CEILING_HTTP_PORT": str(port), "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(
        [*valgrind, f"--callgrind-out-file={out}", sys.executable, "-m", "bench.http_ceiling"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        asyncio.run(_wait_listening(port, proc, within_s=600))
        asyncio.run(_requests(port, 200, args.connections))  # warm-up
        time.sleep(1)
        _control(proc.pid, "on")
        answered = asyncio.run(_requests(port, args.requests, args.connections))
        _control(proc.pid, "off")
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    instructions = _total(out)
    print(
        json.dumps(
            {
                "requests": args.requests,
                "answered_202": answered,
                "instructions": instructions,
                "instructions_per_request": round(instructions / args.requests),
            }
        )
    )


if __name__ == "__main__":
    main()
