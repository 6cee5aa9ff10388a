"""A local SMTP sink for developers: accepts every mail, keeps it as .eml.

    python -m services.notifier.smtp_sink      # 127.0.0.1:1025 → $OMNIDESK_HOME/notifier/outbox
    omnidesk notifier sink --port 1025 --folder ./outbox

Each mail is written as ``<UTC time>-<n>.eml`` (the exact bytes received) and
logged as one line: envelope sender, recipients and the decoded subject.
EHLO offers PIPELINING, as most relays do, so the notifier's pipelined path runs,
and the replies to a pipelined group go out in one write, as Postfix's smtpd sends
them (:class:`PipelinedReplies`).
Nothing is relayed anywhere. ``omnidesk dev up`` starts it; the notifier's
defaults (``NOTIFIER_SMTP_HOST/PORT``) point at it.
"""

from __future__ import annotations

import asyncio
import email
import itertools
import logging
from datetime import UTC, datetime
from email import policy
from pathlib import Path
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from libs.common.lifecycle import run_until_stopped
from libs.common.logging import configure_logging

log = logging.getLogger("smtp_sink")

#: Big enough for any notification; refuses runaway input.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class OffersPipelining:
    """aiosmtpd handler part: EHLO offers PIPELINING (RFC 2920), as Postfix and Exim
    do. aiosmtpd reads commands line by line and answers each in order, so it serves
    pipelined commands correctly; it just does not say so."""

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class PipelinedReplies(SMTP):
    """aiosmtpd's protocol, its replies written as Postfix's smtpd writes them: while
    the client's pipelined commands (RFC 2920) are already buffered, each reply waits
    in an output buffer and the buffer goes out in one write once the server has to
    wait for input (``smtpd_chat.c`` appends replies to the client stream, which is
    flushed before the next read blocks). aiosmtpd writes every reply at once: four
    writes, and up to four wake-ups of the client, for a pipelined mail instead of one.
    Replies that end the session (221, 421) go out at once, as Postfix's hang-up does."""

    _unsent: list[bytes] | None = None  # replies held while more input is buffered

    async def push(self, status: AnyStr) -> None:
        reply = status if isinstance(status, bytes) else status.encode(self._charset)
        if self._unsent is None:
            if not self._more_input_buffered() or reply[:3] in (b"221", b"421"):
                self._write(reply + b"\r\n")
                return
            self._unsent = []
            asyncio.get_running_loop().call_soon(self._flush)  # once the server waits
        self._unsent.append(reply + b"\r\n")
        if not self._more_input_buffered() or reply[:3] in (b"221", b"421"):
            self._flush()

    @property
    def _charset(self) -> str:
        return "utf-8" if self.enable_SMTPUTF8 else "ascii"

    def _more_input_buffered(self) -> bool:
        # aiosmtpd reads commands off its StreamReader and itself reaches into its
        # buffer (STARTTLS); StreamReader has no public "bytes buffered" call.
        return bool(self._reader._buffer)  # type: ignore[attr-defined]

    def _flush(self) -> None:
        unsent, self._unsent = self._unsent, None
        if unsent:
            self._write(b"".join(unsent))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class PipelinedRepliesController(Controller):
    """aiosmtpd's threaded server with :class:`PipelinedReplies` as its protocol."""

    def factory(self) -> SMTP:
        return PipelinedReplies(self.handler, **self.SMTP_kwargs)


class SinkHandler(OffersPipelining):
    """aiosmtpd handler: every accepted message becomes a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._counter = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        path = await asyncio.to_thread(self._write, raw)
        log.info(
            "mail from=%s to=%s subject=%r file=%s",
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
            decoded_subject(raw),
            path.name,
        )
        return "250 Message accepted for delivery"

    def _write(self, raw: bytes) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{next(self._counter):05d}.eml"
        path.write_bytes(raw)
        return path


def decoded_subject(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=policy.default)
    return str(message.get("Subject", ""))


async def serve(host: str, port: int, folder: Path, stop: asyncio.Event) -> None:
    handler = SinkHandler(folder)
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        return PipelinedReplies(handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True)

    server = await loop.create_server(protocol, host=host, port=port)
    log.info("SMTP sink listening on %s:%d, writing to %s", host, port, folder)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        log.info("SMTP sink stopped")


def run_sink(host: str, port: int, folder: Path, *, log_level: str = "INFO") -> None:
    configure_logging("smtp-sink", level=log_level, fmt="text")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    run_until_stopped(lambda stop: serve(host, port, folder, stop))


def main() -> None:
    from services.notifier.settings import NotifierSettings

    settings = NotifierSettings()
    run_sink(
        settings.sink_host,
        settings.sink_port,
        settings.resolved_sink_dir(),
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
