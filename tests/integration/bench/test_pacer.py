"""bench.pacer, the pipeline's compiled load generator (bench/pacer, Go), against a real
HTTP/1.1 server on loopback (h11): every request sent once, in order, byte for byte; each
answer's status recorded against its request; the schedule kept (never early) and lag
reported; a connection the server closes or drops is dialled again. Built here from the
source as committed (``go`` on PATH, as for bench/smtpsink)."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h11
import pytest

from bench.pacer import attack_each, install
from bench.pipeline import SignedPost, pacer_outcome, vegeta_time

pytestmark = pytest.mark.integration

#: What the server does with the request numbered n (its ``X-Signature: sig-<n>``): answer
#: with a status, or drop the connection.
Answer = Callable[[int], int | None]


@pytest.fixture(scope="session")
def pacer_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.skip("go is not on PATH: the pacer (bench/pacer) cannot be built")
    return install(tmp_path_factory.mktemp("pacer"))


@dataclass
class Received:
    method: bytes
    target: bytes
    headers: dict[bytes, bytes]
    body: bytes


@dataclass
class Server:
    answer: Answer
    close_after_each: bool = False
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._exchange(reader, writer)
        finally:
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data:
                    break
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request, body = event, b""
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                got = Received(request.method, request.target, dict(request.headers), body)
                self.received.append(got)
                status = self.answer(int(got.headers[b"x-signature"].removeprefix(b"sig-")))
                if status is None:  # dropped without an answer
                    break
                headers = [(b"content-length", b"2")]
                if self.close_after_each:
                    headers.append((b"connection", b"close"))
                writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
                writer.write(conn.send(h11.Data(data=b"ok")))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                break


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers: list[asyncio.Server] = []

    def started(answer: Answer, *, close_after_each: bool = False) -> Server:
        server = Server(answer, close_after_each)

        async def listen() -> asyncio.Server:
            return await asyncio.start_server(server.handle, "127.0.0.1", 0)

        listening = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
        servers.append(listening)
        server.port = listening.sockets[0].getsockname()[1]
        return server

    yield started

    async def shut() -> None:
        for listening in servers:
            listening.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shut(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def posts(count: int) -> list[SignedPost]:
    return [
        SignedPost(
            "/webhooks/webchat/desk",
            {"Content-Type": "application/json", "X-Signature": f"sig-{n}"},
            f'{{"n": {n}, "text": "안녕하세요 {"x" * n}"}}'.encode(),
        )
        for n in range(count)
    ]


def test_every_request_goes_once_in_order_byte_for_byte(
    pacer_binary: Path, serve: Callable[..., Server]
) -> None:
    server = serve(lambda n: 202 if n % 3 else 500)
    sent = posts(60)
    results, cpu_s = attack_each(
        sent, f"http://127.0.0.1:{server.port}", rate=400, binary=pacer_binary
    )
    assert [r["seq"] for r in results] == list(range(60))
    # the pacer's order, give or take neighbours on two connections (as with vegeta)
    by_signature = {got.headers[b"x-signature"]: got for got in server.received}
    assert len(server.received) == len(by_signature) == 60
    for post in sent:
        got = by_signature[post.headers["X-Signature"].encode()]
        assert got.method == b"POST"
        assert got.target == post.path.encode()
        assert got.headers[b"x-signature"] == post.headers["X-Signature"].encode()
        assert got.headers[b"content-type"] == b"application/json"
        assert got.headers[b"host"] == f"127.0.0.1:{server.port}".encode()
        assert got.body == post.content
    assert [r["code"] for r in results] == [202 if n % 3 else 500 for n in range(60)]
    assert all(r["error"] == "" and r["latency"] > 0 for r in results)
    assert cpu_s > 0


def test_the_schedule_is_the_rate_and_nothing_leaves_early(
    pacer_binary: Path, serve: Callable[..., Server]
) -> None:
    server = serve(lambda n: 202)
    results, _ = attack_each(
        posts(40), f"http://127.0.0.1:{server.port}", rate=200, binary=pacer_binary
    )
    dues = [vegeta_time(r["due"]) for r in results]
    steps = [later - earlier for earlier, later in itertools.pairwise(dues)]
    assert all(abs(step - 1 / 200) < 1e-5 for step in steps)  # the schedule, not a timing
    assert all(vegeta_time(r["timestamp"]) >= vegeta_time(r["due"]) - 1e-6 for r in results)

    outcome = pacer_outcome(results, first=1000, count=40)
    assert outcome["statuses"] == {"202": 40, "not_sent": 0}
    assert sorted(outcome["sent"]) == [str(n) for n in range(1000, 1040)]
    assert outcome["sent"]["1000"] == pytest.approx(dues[0])
    assert outcome["generator_lag"]["count"] == 40


def test_a_closed_or_dropped_connection_is_dialled_again(
    pacer_binary: Path, serve: Callable[..., Server]
) -> None:
    closing = serve(lambda n: 202, close_after_each=True)
    results, _ = attack_each(
        posts(20), f"http://127.0.0.1:{closing.port}", rate=200, binary=pacer_binary
    )
    assert [r["code"] for r in results] == [202] * 20
    assert closing.connections >= 20  # Connection: close honoured, a new one each time

    dropping = serve(lambda n: None if n == 5 else 202)
    results, _ = attack_each(
        posts(20), f"http://127.0.0.1:{dropping.port}", rate=200, binary=pacer_binary
    )
    dropped = [r for r in results if r["code"] == 0]
    assert len(dropped) == 1 and dropped[0]["error"]  # what the pacer saw: EOF
    assert sum(r["code"] == 202 for r in results) == 19
    assert len(dropping.received) == 20
    outcome = pacer_outcome(results, first=0, count=20)
    assert outcome["statuses"]["error"] == 1 and len(outcome["sent"]) == 19


def test_targets_for_two_hosts_are_refused_with_the_line(
    pacer_binary: Path, tmp_path: Path
) -> None:
    targets = tmp_path / "targets.jsonl"
    targets.write_text(
        '{"method": "POST", "url": "http://127.0.0.1:1/a", "header": {}, "body": ""}\n'
        '{"method": "POST", "url": "http://127.0.0.2:1/b", "header": {}, "body": ""}\n'
    )
    done = subprocess.run(
        [str(pacer_binary), f"-targets={targets}", f"-output={tmp_path / 'out'}", "-rate=10"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert f"{targets}:2: every target must go to 127.0.0.1:1, not 127.0.0.2:1" in done.stderr
