"""One authenticated IMAP connection, every command bounded by a timeout.

aioimaplib has known hangs (a lost connection leaves a command waiting
forever; IDLE can miss its end), so nothing here awaits aioimaplib without
``asyncio.timeout`` around it, and a lost connection is noticed through its
callback. Any failure closes the session: the caller reconnects rather than
guess the protocol state.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import aioimaplib
from aioimaplib.aioimaplib import AUTH, Command, IMAP4ClientProtocol

from services.email_ingest.imap.fetch import FetchedMessage, parse_fetch_response
from services.email_ingest.imap.folders import quoted_folder
from services.email_ingest.mailboxes import AuthMethod, MailboxConfig, TlsMode

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS")
#: Untagged responses during IDLE that mean "look again" (new mail, or the server leaving).
_CHANGE_PUSH = re.compile(rb"EXISTS|BYE", re.IGNORECASE)


_UNTAGGED_EXISTS = re.compile(rb"^\* \d+ EXISTS")


class _ArrivalTrackingProtocol(IMAP4ClientProtocol):
    """Notes every ``* n EXISTS``, whatever command it arrives with; answers a
    refused XOAUTH2 challenge.

    aioimaplib drops untagged EXISTS that arrive during FETCH or SEARCH; a
    mail that lands while we fetch would then be announced and lost, and
    the next IDLE would wait for a mail the server already told us about.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.mail_arrived = False

    def _untagged_response(self, line: bytes) -> Command:
        if _UNTAGGED_EXISTS.match(line):
            self.mail_arrived = True
        return super()._untagged_response(line)

    def _continuation(self, line: bytes) -> None:
        command = self.pending_sync_command
        if command is not None and command.name == "AUTHENTICATE":
            # A refused XOAUTH2 token: the server sends an error challenge and waits
            # for an empty response before its NO (RFC 7628 §3.2.3). aioimaplib
            # would wait forever instead.
            self.transport.write(b"\r\n")
            return
        super()._continuation(line)


class _TrackingImap4(aioimaplib.IMAP4):
    def create_client(self, host, port, loop, conn_lost_cb=None, ssl_context=None):  # type: ignore[no-untyped-def]
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = _ArrivalTrackingProtocol(local_loop, conn_lost_cb)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )


class ImapError(Exception):
    """A command failed, timed out or the connection dropped; reconnect."""


class ImapAuthError(ImapError):
    """The server refused our credentials (retrying fast will not help)."""


@dataclass(frozen=True, slots=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_s: float
    command_s: float

    @property
    def fetch_s(self) -> float:
        # aioimaplib's own per-command timer restarts with each chunk received;
        # this outer bound only catches a fetch that stopped making progress.
        return self.command_s * 10


def tls_context(config: MailboxConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if not config.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class ImapSession:
    def __init__(self, client: _TrackingImap4, timeouts: Timeouts, lost: asyncio.Event) -> None:
        self._client = client
        self._timeouts = timeouts
        self.lost = lost

    @classmethod
    async def open(cls, config: MailboxConfig, *, secret: str, timeouts: Timeouts) -> ImapSession:
        lost = asyncio.Event()
        context = tls_context(config) if config.tls is not TlsMode.PLAIN else None
        client = _TrackingImap4(
            host=config.host,
            port=config.effective_port,
            timeout=timeouts.command_s,
            conn_lost_cb=lambda _exc: lost.set(),
            ssl_context=context if config.tls is TlsMode.IMPLICIT else None,
        )
        session = cls(client, timeouts, lost)
        try:
            await session._bounded(client.wait_hello_from_server(), timeouts.connect_s, "greeting")
            if config.tls is TlsMode.STARTTLS:
                assert context is not None
                await session._starttls(context, config.host)
            await session._authenticate(config, secret)
        except BaseException:
            session.close()
            raise
        return session

    # -- commands -------------------------------------------------------------

    def has_capability(self, name: str) -> bool:
        return self._client.has_capability(name)

    def take_arrival_notice(self) -> bool:
        """True if the server announced new mail (EXISTS) since the last call."""
        protocol = self._client.protocol
        arrived, protocol.mail_arrived = protocol.mail_arrived, False
        return arrived

    async def select(self, folder: str) -> FolderStatus:
        response = await self._command(
            self._client.select(quoted_folder(folder)), f"SELECT {folder}"
        )
        text = b"\n".join(bytes(line) for line in response.lines)
        validity = _UIDVALIDITY.search(text)
        if validity is None:
            raise ImapError(f"SELECT {folder}: server sent no UIDVALIDITY")
        uidnext = _UIDNEXT.search(text)
        exists = next(
            (int(m.group(1)) for line in response.lines if (m := _EXISTS.match(bytes(line)))), 0
        )
        return FolderStatus(
            int(validity.group(1)), int(uidnext.group(1)) if uidnext else None, exists
        )

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``, ascending. ("N:*" also returns the top UID if it is < N.)"""
        response = await self._command(
            self._client.protocol.search("UID", f"{last_uid + 1}:*", by_uid=True, charset=None),
            "UID SEARCH",
        )
        uids: set[int] = set()
        for line in response.lines:
            parts = bytes(line).split()
            if parts[:1] == [b"SEARCH"]:
                parts = parts[1:]
            uids.update(int(p) for p in parts if p.isdigit())
        return sorted(uid for uid in uids if uid > last_uid)

    async def existing_uids(self, uids: list[int]) -> list[int]:
        """Which of ``uids`` are still in the folder."""
        uid_set = ",".join(str(uid) for uid in uids)
        response = await self._command(
            self._client.protocol.search("UID", uid_set, by_uid=True, charset=None),
            "UID SEARCH",
        )
        found = {int(p) for line in response.lines for p in bytes(line).split() if p.isdigit()}
        return sorted(uid for uid in uids if uid in found)

    async def fetch(self, uids: list[int]) -> list[FetchedMessage]:
        """Whole messages by UID, without setting \\Seen (BODY.PEEK)."""
        if not uids:
            return []
        uid_set = ",".join(str(uid) for uid in uids)
        response = await self._command(
            self._client.uid("fetch", uid_set, "(UID RFC822.SIZE BODY.PEEK[])"),
            "UID FETCH",
            limit_s=self._timeouts.fetch_s,
        )
        return parse_fetch_response(response.lines)

    async def add_flag(self, uids: Sequence[int], flag: str) -> None:
        await self._command(
            self._client.uid("store", _uid_set(uids), "+FLAGS.SILENT", f"({flag})"), "UID STORE"
        )

    async def move(self, uids: Sequence[int], folder: str) -> None:
        if self.has_capability("MOVE"):
            await self._command(
                self._client.uid("move", _uid_set(uids), quoted_folder(folder)), "UID MOVE"
            )
            return
        await self._command(
            self._client.uid("copy", _uid_set(uids), quoted_folder(folder)), "UID COPY"
        )
        await self.delete(uids)

    async def delete(self, uids: Sequence[int]) -> None:
        await self.add_flag(uids, "\\Deleted")
        if self.has_capability("UIDPLUS"):
            await self._command(self._client.uid("expunge", _uid_set(uids)), "UID EXPUNGE")
        else:
            await self._command(self._client.expunge(), "EXPUNGE")

    async def ensure_folder(self, folder: str) -> None:
        """CREATE, ignoring "already exists" (a NO answer)."""
        await self._command(
            self._client.create(quoted_folder(folder)), f"CREATE {folder}", check=False
        )

    async def noop(self) -> None:
        await self._command(self._client.noop(), "NOOP")

    async def wait_for_change(self, max_wait_s: float, stop: asyncio.Event) -> None:
        """IDLE until new mail, ``max_wait_s`` (re-issue), ``stop`` or a lost connection."""
        idle = await self._bounded(
            self._client.idle_start(timeout=max_wait_s), self._timeouts.command_s, "IDLE"
        )
        try:
            await self._wait_pushes(max_wait_s, stop)
        finally:
            await self._end_idle(idle)

    async def _wait_pushes(self, max_wait_s: float, stop: asyncio.Event) -> None:
        while True:
            push = asyncio.ensure_future(self._client.wait_server_push(timeout=max_wait_s + 5))
            stopped = asyncio.ensure_future(stop.wait())
            lost = asyncio.ensure_future(self.lost.wait())
            try:
                await asyncio.wait({push, stopped, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (stopped, lost):
                    waiter.cancel()
            if not push.done():
                push.cancel()
                return
            try:
                lines = push.result()
            except TimeoutError:
                return
            if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                return
            if any(_CHANGE_PUSH.search(bytes(line)) for line in lines):
                return

    async def _end_idle(self, idle: asyncio.Future[object]) -> None:
        if self.lost.is_set():
            idle.cancel()
            raise ImapError("connection lost during IDLE")
        if self._client.has_pending_idle():
            self._client.idle_done()
        await self._bounded(idle, self._timeouts.command_s, "IDLE DONE")

    async def logout(self) -> None:
        try:
            if not self.lost.is_set():
                await self._bounded(self._client.logout(), 5, "LOGOUT")
        except ImapError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        transport = self._client.protocol.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    # -- internals ------------------------------------------------------------

    async def _starttls(self, context: ssl.SSLContext, host: str) -> None:
        protocol = self._client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError("server does not offer STARTTLS")
        response = await self._bounded(
            protocol.execute(Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)),
            self._timeouts.command_s,
            "STARTTLS",
        )
        if response.result != "OK":
            raise ImapError(f"STARTTLS refused: {_text(response.lines)}")
        loop = asyncio.get_running_loop()
        protocol.transport = await self._bounded(
            loop.start_tls(protocol.transport, protocol, context, server_hostname=host),
            self._timeouts.connect_s,
            "TLS handshake",
        )
        # Capabilities before TLS are not to be trusted (RFC 3501 §6.2.1).
        await self._bounded(protocol.capability(), self._timeouts.command_s, "CAPABILITY")

    async def _authenticate(self, config: MailboxConfig, secret: str) -> None:
        if config.auth is AuthMethod.XOAUTH2:
            response = await self._bounded(
                self._client.xoauth2(config.username, secret), self._timeouts.command_s, "AUTH"
            )
        elif config.auth is AuthMethod.OAUTHBEARER:
            response = await self._bounded(
                self._oauthbearer(config, secret), self._timeouts.command_s, "AUTH"
            )
        else:
            response = await self._bounded(
                self._client.login(config.username, secret), self._timeouts.command_s, "LOGIN"
            )
        if response.result != "OK":
            raise ImapAuthError(f"login as {config.username} refused: {_text(response.lines)}")

    async def _oauthbearer(self, config: MailboxConfig, token: str):  # type: ignore[no-untyped-def]
        """SASL OAUTHBEARER with an initial response (RFC 7628 §3.1; aioimaplib has
        only XOAUTH2). A refused token gets the same empty answer as XOAUTH2 (§3.2.3)."""
        protocol = self._client.protocol
        message = oauthbearer_initial_response(
            config.username, config.host, config.effective_port, token
        )
        response = await protocol.execute(
            Command("AUTHENTICATE", protocol.new_tag(), "OAUTHBEARER", message, loop=protocol.loop),
            scrub=token,
        )
        if response.result == "OK":
            protocol.state = AUTH
        return response

    async def _command(
        self, awaitable, name: str, *, limit_s: float | None = None, check: bool = True
    ):  # type: ignore[no-untyped-def]
        if self.lost.is_set():
            awaitable.close()
            raise ImapError(f"{name}: connection lost")
        response = await self._bounded(awaitable, limit_s or self._timeouts.command_s, name)
        if check and response.result != "OK":
            raise ImapError(f"{name} failed: {response.result} {_text(response.lines)}")
        return response

    async def _bounded(self, awaitable, limit_s: float, name: str):  # type: ignore[no-untyped-def]
        """Await an aioimaplib call, but give up at ``limit_s`` or when the connection
        drops (aioimaplib would otherwise wait for an answer that never comes)."""
        command = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait({command, lost}, timeout=limit_s,
                                         return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            lost.cancel()
        if command not in done:
            command.cancel()
            reason = "connection lost" if self.lost.is_set() else f"no answer within {limit_s:g}s"
            raise ImapError(f"{name}: {reason}")
        try:
            return command.result()
        except aioimaplib.AioImapException as exc:
            raise ImapError(f"{name}: {exc!r}") from exc
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise ImapError(f"{name}: {exc!r}") from exc


def oauthbearer_initial_response(user: str, host: str, port: int, token: str) -> str:
    """RFC 7628 §3.1: ``n,a=<user>,^Ahost=…^Aport=…^Aauth=Bearer <token>^A^A``, base64.

    In the GS2 authzid, "," and "=" are escaped as "=2C" and "=3D" (RFC 5801 §4).
    """
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    message = f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(message.encode("utf-8")).decode("ascii")


def _uid_set(uids: Sequence[int]) -> str:
    if not uids:
        raise ValueError("an IMAP command needs at least one UID")
    return ",".join(str(uid) for uid in uids)


def _text(lines: list[bytes]) -> str:
    return " ".join(bytes(line).decode("utf-8", "replace") for line in lines)[:300]
