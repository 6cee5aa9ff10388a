"""The developer SMTP sink, and the notifier as a process sending to it."""

from __future__ import annotations

import asyncio
import email
import logging
import os
import sys
from email import policy
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest

from services.notifier.samples import sample_events, snapshot
from services.notifier.smtp_sink import OffersPipelining, PipelinedReplies, serve
from tests.helpers.waiting import eventually
from tools.testing.system import free_port

from .conftest import publish_routing

pytestmark = pytest.mark.integration


async def test_sink_keeps_each_mail_as_eml_and_logs_one_line(tmp_path, caplog):
    port, stop = free_port(), asyncio.Event()
    caplog.set_level(logging.INFO, logger="smtp_sink")
    task = asyncio.create_task(serve("127.0.0.1", port, tmp_path / "outbox", stop))
    message = EmailMessage()
    message["From"] = "support@desk.example"
    message["To"] = "kim@example.kr"
    message["Subject"] = "출금 문의 접수"
    message.set_content("본문입니다")
    await eventually(lambda: any("listening" in r.getMessage() for r in caplog.records))
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
    await eventually(lambda: len(list((tmp_path / "outbox").glob("*.eml"))) == 1)
    stop.set()
    await task

    [path] = (tmp_path / "outbox").glob("*.eml")
    stored = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert stored["Subject"] == "출금 문의 접수"
    assert stored.get_content().strip() == "본문입니다"
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mail ")]
    assert "from=support@desk.example" in line
    assert "to=kim@example.kr" in line
    assert "subject='출금 문의 접수'" in line


async def _spawn(module: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.terminate()
    return await asyncio.wait_for(process.wait(), 30)


async def test_python_m_notifier_sends_to_the_sink_with_probes(kafka_topics, tmp_path, producer):
    """What `omnidesk dev up` runs: the sink and the notifier as processes."""
    sink_port, probe_port = free_port(), free_port()
    outbox = tmp_path / "outbox"
    topics = kafka_topics.topics
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_topics.bootstrap_servers,
        "KAFKA_TOPIC_ROUTING": topics.routing,
        "KAFKA_TOPIC_NOTIFICATIONS": topics.notifications,
        "KAFKA_TOPIC_DEADLETTER": topics.deadletter,
        "NOTIFIER_SINK_PORT": str(sink_port),
        "NOTIFIER_SINK_DIR": str(outbox),
        "NOTIFIER_SMTP_PORT": str(sink_port),
        "NOTIFIER_STATE_DIR": str(tmp_path / "state"),
        "NOTIFIER_PROBE_PORT": str(probe_port),
        "NOTIFIER_GROUP_ID": "notifier-process-test",
    }
    sink = await _spawn("services.notifier.smtp_sink", env)
    notifier = await _spawn("services.notifier", env)
    try:
        event = sample_events(snapshot(reference="C-55"))["support.conversation.opened"]
        await publish_routing(producer, kafka_topics, event, "ev-process-1")
        await eventually(lambda: len(list(outbox.glob("*.eml"))) == 1, within_s=60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{probe_port}") as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
    finally:
        notifier_code = await _stop(notifier)
        sink_code = await _stop(sink)
    [path] = outbox.glob("*.eml")
    stored = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert stored["Subject"] == "[#C-55] 문의가 접수되었습니다: 출금이 안 됩니다"
    assert stored["Auto-Submitted"] == "auto-replied"
    assert (notifier_code, sink_code) == (0, 0)  # both stop cleanly on SIGTERM
    assert (tmp_path / "state" / "sentlog.db").exists()


class CountedWrites(PipelinedReplies):
    """The sink's protocol, keeping each write it makes."""

    writes: list[bytes]

    def _write(self, data: bytes) -> None:
        self.writes.append(data)
        super()._write(data)


async def test_sink_answers_a_pipelined_group_in_one_write_and_a_lone_command_at_once():
    """``PipelinedReplies``: replies wait while more pipelined commands are buffered and
    go out together (as Postfix's smtpd sends them); a command with nothing after it is
    answered at once, so a client that waits for each reply is never kept waiting."""
    writes: list[bytes] = []

    def protocol() -> CountedWrites:
        server = CountedWrites(OffersPipelining())
        server.writes = writes
        return server

    listener = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await reader.readline()).startswith(b"220 ")
    writer.write(b"EHLO client.example\r\n")
    assert b"250-PIPELINING\r\n" in await _until(reader, b"250 ")
    writes.clear()

    writer.write(b"MAIL FROM:<support@desk.example>\r\nRCPT TO:<kim@example.kr>\r\nDATA\r\n")
    assert (await _until(reader, b"354 ")).startswith(b"250 OK\r\n250 OK\r\n")
    writer.write(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"250 ")
    writer.write(b"NOOP\r\n")  # a lone command: answered at once
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"250 ")
    writer.write(b"QUIT\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"221 ")
    writer.close()
    listener.close()
    assert [w[:3] for w in writes] == [b"250", b"250", b"250", b"221"]
    assert writes[0].count(b"\r\n") == 3  # MAIL, RCPT and DATA answered in one write


async def _until(reader: asyncio.StreamReader, last: bytes) -> bytes:
    text = b""
    while not (line := await asyncio.wait_for(reader.readline(), 5)).startswith(last):
        text += line
    return text + line
