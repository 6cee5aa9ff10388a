"""bench.smtp_sink: both kinds — the compiled sink (bench/smtpsink, Go) and aiosmtpd — in a
process of their own, counted and read by the bench (real SMTP). The same tests run against
each; the Go binary is built here (``go`` on PATH; .ci/run's machines have it, as
deploy/validate.sh needs it), so CI runs them against the source as committed."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import socket
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from bench.cpu_accounting import CpuMeter, cpu_split
from bench.smtp_sink import SIZE_LIMIT, SmtpSink, install
from services.notifier.mail import OutgoingMail
from services.notifier.smtp import PermanentSmtpError, SmtpConfig, SmtpPool

pytestmark = pytest.mark.integration

OpenSink = Callable[..., SmtpSink]


@pytest.fixture(scope="session")
def go_sink_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.skip("go is not on PATH: the compiled SMTP sink (bench/smtpsink) cannot be built")
    return install(tmp_path_factory.mktemp("smtpsink"))


@pytest.fixture(params=["go", "aiosmtpd"])
def open_sink(request: pytest.FixtureRequest) -> OpenSink:
    kind = request.param
    binary = request.getfixturevalue("go_sink_binary") if kind == "go" else None

    def opened(*, keep: bool, size_limit: int = SIZE_LIMIT) -> SmtpSink:
        return SmtpSink(keep=keep, kind=kind, size_limit=size_limit, binary=binary)

    return opened


def mail(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "desk@omnidesk.localhost"
    message["To"] = f"agent-{n}@desk.example"
    message["Subject"] = f"assigned {n}"
    message.set_content(f"Visitor pbrunx{n} is waiting")
    return message


def test_the_sink_is_its_own_process_and_keeps_what_it_received(open_sink: OpenSink) -> None:
    with open_sink(keep=True) as sink:
        assert Path(f"/proc/{sink.pid}").exists()
        meter = CpuMeter({"sink": sink.pid})
        before = meter.sample()
        sent_at = time.time()
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            for n in range(3):
                client.send_message(mail(n))
        count, last_at = sink.counted()
        assert count == 3
        assert sent_at <= last_at <= time.time()
        arrivals = sink.take()
        assert [b"pbrunx%d" % n in raw for n, (_, raw) in enumerate(arrivals)] == [True] * 3
        assert sink.take() == []  # taken once
        assert sink.count() == 3  # the count stays
        split = cpu_split(before, meter.sample(), messages=3, cpus=1)
        assert split["processes"]["sink"]["cpu_s_per_1000"] is not None  # its pid was read
    assert not Path(f"/proc/{sink.pid}").exists()  # stopped and waited for


def test_a_counting_sink_keeps_no_bodies(open_sink: OpenSink) -> None:
    with open_sink(keep=False) as sink:
        assert sink.counted() == (0, 0.0)
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            client.send_message(mail(1))
        assert sink.count() == 1
        assert sink.take() == []


def test_the_kind_is_named(open_sink: OpenSink, request: pytest.FixtureRequest) -> None:
    with open_sink(keep=False) as sink:
        assert sink.kind == request.node.callspec.params["open_sink"]


# --- the notifier's pool ---------------------------------------------------------------

#: Lines a dot-stuffing client must escape (RFC 5321 §4.5.2), 8-bit UTF-8 text (8BITMIME),
#: a line that is only "." and one that is "..", a long line under the 1,000-octet limit.
BODY = (
    "From: Desk <desk@omnidesk.localhost>\r\n"
    "To: agent@desk.example\r\n"
    "Subject: =?utf-8?b?7IOIIOusuOydmA==?=\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "새 문의가 배정되었습니다 — mail {n}\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "..\r\n"
    "Grüße, ünïcödé\r\n"
    "{long}\r\n"
    ". ends here\r\n"
).replace("{long}", "x" * 990)


def outgoing(n: int, size: int = 0) -> OutgoingMail:
    raw = BODY.replace("{n}", str(n)).encode()
    if size:
        raw += b"y" * 76 + b"\r\n"
        raw += (b"z" * 998 + b"\r\n") * (size // 1000)
    return OutgoingMail(
        "desk@omnidesk.localhost", f"agent-{n}@desk.example", f"<{n}@desk>", raw, True
    )


async def test_the_notifiers_pool_delivers_exactly_what_it_sent(open_sink: OpenSink) -> None:
    """Pipelined (each content in one write with the next envelope), over several
    connections at once: ``take()`` returns each mail's bytes as sent, unstuffed."""
    mails = [outgoing(n) for n in range(60)]
    with open_sink(keep=True) as sink:
        pool = SmtpPool(SmtpConfig(host="127.0.0.1", port=sink.port, pool_size=3, timeout_s=10))
        try:
            connection = await pool.connect()
            assert connection.pipelining  # EHLO offered PIPELINING: the pipelined path runs
            await connection.quit()
            await asyncio.gather(*(pool.send(m) for m in mails))
        finally:
            await pool.close()
        assert pool.connections_opened == 1 + 3
        taken = sink.take()
        assert sink.count() == len(mails)
    assert sorted(raw for _, raw in taken) == sorted(m.raw for m in mails)


async def test_a_mail_over_size_is_refused_and_the_next_goes(open_sink: OpenSink) -> None:
    with open_sink(keep=True, size_limit=20_000) as sink:
        pool = SmtpPool(SmtpConfig(host="127.0.0.1", port=sink.port, pool_size=1, timeout_s=10))
        try:
            with pytest.raises(PermanentSmtpError) as refused:
                await pool.send(outgoing(1, size=30_000))  # MAIL FROM … SIZE=: refused at once
            assert refused.value.code == 552
            await pool.send(outgoing(2, size=15_000))
        finally:
            await pool.close()
        assert [raw for _, raw in sink.take()] == [outgoing(2, size=15_000).raw]


# --- the conversation, command by command ------------------------------------------------


class Client:
    """A raw SMTP client: each write as given, replies read whole (RFC 5321 §4.2)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def reply(self) -> list[str]:
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed after {lines}")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode())
            if line[3:4] != b"-":
                return lines

    def send(self, data: bytes, replies: int = 1) -> list[list[str]]:
        self.sock.sendall(data)
        return [self.reply() for _ in range(replies)]

    def code(self, line: str) -> str:
        (reply,) = self.send(line.encode() + b"\r\n")
        return reply[0][:3]

    def closed(self) -> bool:
        return self.sock.recv(1) == b""


def ehlo_keywords(reply: list[str]) -> list[str]:
    return [line[4:] for line in reply[1:]]


def test_ehlo_offers_what_the_aiosmtpd_sink_offers(open_sink: OpenSink) -> None:
    with open_sink(keep=False) as sink:
        client = Client(sink.port)
        assert client.reply()[0].startswith("220 ")
        (ehlo,) = client.send(b"EHLO bench.example\r\n")
        assert ehlo_keywords(ehlo) == [
            f"SIZE {SIZE_LIMIT}",
            "8BITMIME",
            "SMTPUTF8",
            "PIPELINING",
            "HELP",
        ]
        assert client.code("HELO bench.example") == "250"


SEQUENCE = [
    # RFC 5321 §4.1.4 and §4.3.2: the order of commands; 503 out of sequence,
    # 500/501/502 for what is no command, a bad argument, or not implemented.
    ("MAIL FROM:<a@b.example>", "503"),  # before HELO/EHLO
    ("RCPT TO:<a@b.example>", "503"),
    ("DATA", "503"),
    ("", "500"),
    ("FOO bar", "500"),
    ("EHLO", "501"),
    ("EHLO bench.example", "250"),
    ("RCPT TO:<a@b.example>", "503"),  # before MAIL
    ("DATA", "503"),  # before RCPT
    ("MAIL TO:<a@b.example>", "501"),
    ("MAIL FROM:<a@b.example> BODY=9BIT", "501"),
    ("MAIL FROM:<a@b.example> FOO=1", "555"),
    (f"MAIL FROM:<a@b.example> SIZE={SIZE_LIMIT + 1}", "552"),
    ("MAIL FROM:<a@>", "553"),
    ("MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME", "250"),
    ("MAIL FROM:<c@b.example>", "503"),  # nested
    ("DATA", "503"),  # before RCPT
    ("RCPT FROM:<a@b.example>", "501"),
    ("RCPT TO:<d@b.example>", "250"),
    ("RCPT TO:<e@b.example>", "250"),
    ("DATA now", "501"),
    ("RSET now", "501"),
    ("RSET", "250"),
    ("RCPT TO:<d@b.example>", "503"),  # RSET ended the transaction
    ("NOOP anything", "250"),
    ("VRFY", "501"),
    ("VRFY <someone@b.example>", "252"),
    ("EXPN list", "502"),
    ("HELP", "250"),
    ("HELP MAIL", "250"),
    ("HELP XYZZY", "501"),
    ("STARTTLS", "454"),
    ("AUTH PLAIN", "538"),
    ("QUIT now", "501"),
    ("MAIL FROM:<>", "250"),  # the null reverse-path (RFC 5321 §4.5.5)
    ("QUIT", "221"),
]


def test_commands_out_of_sequence_or_malformed_are_refused(open_sink: OpenSink) -> None:
    with open_sink(keep=False) as sink:
        client = Client(sink.port)
        client.reply()
        codes = [(command, client.code(command)) for command, _ in SEQUENCE]
        assert codes == SEQUENCE
        assert client.closed()
        assert sink.count() == 0


def test_content_over_size_or_line_limit_is_refused_after_its_end(open_sink: OpenSink) -> None:
    """A client that did not declare SIZE: the content is read to its end, then 552
    (RFC 1870 §6.3); a line over aiosmtpd's 1,001 octets: 500 (RFC 5321 §4.5.3.1.6).
    The transaction is over either way; the session goes on."""
    envelope = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@b.example>\r\nDATA\r\n"
    with open_sink(keep=True, size_limit=5_000) as sink:
        client = Client(sink.port)
        client.reply()
        client.send(b"EHLO bench.example\r\n")
        replies = client.send(envelope + b"x\r\n" * 3_000 + b".\r\n", 4)
        assert [r[0][:3] for r in replies] == ["250", "250", "354", "552"]
        replies = client.send(envelope + b"y" * 1_000 + b"\r\n.\r\n", 4)
        assert [r[0][:3] for r in replies] == ["250", "250", "354", "500"]
        assert client.code("RCPT TO:<c@b.example>") == "503"
        replies = client.send(envelope + b"y" * 999 + b"\r\nbare\nLF\r\n..\r\n.\r\n", 4)
        assert [r[0][:3] for r in replies] == ["250", "250", "354", "250"]
        ((_, raw),) = sink.take()
        assert raw == b"y" * 999 + b"\r\nbare\nLF\r\n.\r\n"
        assert sink.count() == 1


def test_replies_to_a_pipelined_group_come_together(open_sink: OpenSink) -> None:
    """RFC 2920 §3.1: a group's replies, in order; the sink holds them while the
    group's commands are buffered and writes them when it would wait."""
    with open_sink(keep=False) as sink:
        client = Client(sink.port)
        client.reply()
        group = b"EHLO a.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@b.example>\r\nDATA\r\n"
        replies = client.send(group, 4)
        assert [r[-1][:3] for r in replies] == ["250", "250", "250", "354"]
        assert client.buffer == b""
        assert client.send(b"body\r\n.\r\nQUIT\r\n", 2) == [["250 OK"], ["221 Bye"]]
        assert client.closed()


def test_many_connections_at_once(open_sink: OpenSink) -> None:
    with open_sink(keep=False) as sink:
        clients = [Client(sink.port) for _ in range(50)]
        for client in clients:
            client.reply()
            client.sock.sendall(
                b"HELO a.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@b.example>\r\nDATA\r\n"
            )
        for client in clients:
            assert [client.reply()[0][:3] for _ in range(4)] == ["250", "250", "250", "354"]
            assert client.send(b"hello\r\n.\r\n") == [["250 OK"]]
        assert sink.count() == 50


#: More than SEQUENCE: each reply's whole text, compared between the two kinds.
SCRIPT = [
    *(command for command, _ in SEQUENCE[:-1]),
    "HELO bench.example",
    "HELP MAIL",
    "MAIL FROM:<a@b.example> SIZE=10",  # no parameters after HELO
    "mail from: <a@b.example>",
    "MAIL FROM:<@relay.example:a@b.example>",
    "RCPT TO:<postmaster>",
    "RCPT TO:<x@[192.0.2.1]>",
    "RCPT TO:<x@b.example.>",
    "RCPT TO:<받는이@b.example>",  # SMTPUTF8 (RFC 6531 §3.3)
    "RSET",
    "EHLO again.example",
    "MAIL FROM:<a@b.example> SMTPUTF8",
    "MAIL FROM:<a@b.example> SIZE",
    "MAIL FROM:<a@b.example> SIZE=x1",
    "MAIL FROM:<a@b.example> SIZE=",
    "MAIL FROM:<a@b.example> BODY",
    "MAIL FROM:<a@b.example> BODY=7bit",
    "RCPT TO:<c@b.example> NOTIFY=NEVER",
    "HELP mail",
    "HELP STARTTLS",
    "AUTH",
    "X" * 600,
    "NOOP " + "y" * 1200,
    "BAR",
    "BAZ",
    "QUX",
    "QUUX",
]


def conversation(port: int) -> list[list[str]]:
    client = Client(port)
    client.reply()
    replies = []
    for command in SCRIPT:
        try:
            (reply,) = client.send(command.encode() + b"\r\n")
        except ConnectionError:
            replies.append(["closed"])
            break
        replies.append(reply)
    return replies


def without_server_name(command: str, reply: list[str]) -> list[str]:
    """EHLO's and HELO's first line names the server: each kind its own."""
    if command[:4].upper() in ("EHLO", "HELO") and reply[0].startswith("250"):
        return [reply[0][:4] + "(server)", *reply[1:]]
    return reply


def test_the_go_sink_answers_as_the_aiosmtpd_sink_does(go_sink_binary: Path) -> None:
    answers = {}
    for kind in ("go", "aiosmtpd"):
        with SmtpSink(keep=False, kind=kind, binary=go_sink_binary) as sink:
            replies = conversation(sink.port)
        answers[kind] = [without_server_name(*pair) for pair in zip(SCRIPT, replies, strict=False)]
    assert answers["go"] == answers["aiosmtpd"]
    assert answers["go"][-1] == ["502 5.5.1 Too many unrecognized commands, goodbye."]
