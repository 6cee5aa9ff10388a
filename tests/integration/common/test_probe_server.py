"""The framework-free probe server over a real socket: answers, errors, bad clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from libs.common.probes import ReadinessCheck, serve_probes
from tools.testing.system import free_port

pytestmark = pytest.mark.integration


class Readiness:
    """Checks the test switches between passing, failing and raising."""

    def __init__(self) -> None:
        self.state = "ok"

    async def check(self) -> bool:
        if self.state == "raise":
            raise ConnectionRefusedError("broker down")
        return self.state == "ok"

    def checks(self) -> Mapping[str, ReadinessCheck]:
        if self.state == "provider-broken":
            raise RuntimeError("checks not built")
        return {"kafka": self.check}


@pytest.fixture
async def probes() -> AsyncIterator[tuple[int, Readiness]]:
    readiness, port, stop = Readiness(), free_port(), asyncio.Event()
    task = asyncio.create_task(
        serve_probes(readiness.checks, host="127.0.0.1", port=port, stop=stop)
    )
    for _ in range(50):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield port, readiness
    stop.set()
    await asyncio.wait_for(task, 5)


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 10)  # the server closes after one answer
    writer.close()
    return reply


async def test_liveness_readiness_and_metrics_answer_like_the_fastapi_router(probes):
    port, readiness = probes
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        alive = await client.get("/healthz")
        assert (alive.status_code, alive.json()) == (200, {"status": "alive", "checks": {}})
        assert alive.headers["content-type"] == "application/json"

        ready = await client.get("/readyz?verbose=1")
        assert (ready.status_code, ready.json()) == (
            200,
            {"status": "ready", "checks": {"kafka": "ok"}},
        )
        readiness.state = "failing"
        failing = await client.get("/readyz")
        assert (failing.status_code, failing.json()["checks"]) == (503, {"kafka": "failing"})
        readiness.state = "raise"
        raised = await client.get("/readyz")
        assert raised.status_code == 503
        assert raised.json() == {
            "status": "not ready",
            "checks": {"kafka": "failing: ConnectionRefusedError"},
        }

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"] == CONTENT_TYPE_LATEST
        assert "omnidesk_events_published_total" in metrics.text


async def test_head_gets_the_headers_of_get_without_a_body(probes):
    port, _ = probes
    reply = await _raw(port, b"HEAD /healthz HTTP/1.1\r\nHost: probe\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    length = len(b'{"status":"alive","checks":{}}')
    assert f"content-length: {length}".encode() in head.lower()
    assert body == b""


async def test_unknown_paths_and_methods_get_404_and_405(probes):
    port, _ = probes
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        missing = await client.get("/docs")
        assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
        posted = await client.post("/readyz", content=b"{}")
        assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),  # no method, target, version
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 requires Host
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n", 431),
    ],
    ids=["garbage", "no-host", "malformed-header", "oversized-headers"],
)
async def test_bad_requests_are_answered_with_an_error_and_the_server_keeps_serving(
    probes, request_bytes, status
):
    port, _ = probes
    reply = await _raw(port, request_bytes)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode())
    assert (await _raw(port, b"GET /healthz HTTP/1.0\r\n\r\n")).startswith(b"HTTP/1.1 200 ")


async def test_clients_that_vanish_or_fail_do_not_stop_the_server(probes):
    port, readiness = probes
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /hea")  # half a request line, then gone
    writer.close()
    _, silent = await asyncio.open_connection("127.0.0.1", port)  # connects, says nothing
    readiness.state = "provider-broken"
    broken = await _raw(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert broken.startswith(b"HTTP/1.1 500 ")
    readiness.state = "ok"
    body = (await _raw(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")).partition(b"\r\n\r\n")[2]
    assert json.loads(body)["status"] == "ready"
    silent.close()


async def test_port_zero_serves_nothing_until_stopped():
    stop = asyncio.Event()
    task = asyncio.create_task(serve_probes(dict, host="127.0.0.1", port=0, stop=stop))
    await asyncio.sleep(0)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 1)


def test_consumer_only_services_import_no_web_framework():
    """The point of this server: the assistant and email_ingest stay without FastAPI."""
    probe = (
        "import sys, services.assistant.bootstrap, services.email_ingest.bootstrap;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('fastapi', 'starlette', 'uvicorn')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
