"""A real Dovecot IMAP server on loopback, for tests, benchmarks and the demo.

Needs the Debian package ``dovecot-imapd`` (which brings ``dovecot-core`` and
``openssl``). Everything lives in one temporary folder: configuration,
a passwd-file per user with a plaintext password, a self-signed certificate
(for implicit TLS on a second port and STARTTLS on the first), Maildirs,
sockets and the log. Ports are picked free at start.

Run as root (as CI does): the login processes run as ``dovenull`` and mail
belongs to the ``dovecot`` user, with ``first_valid_uid`` lowered to match.
Run as another user, every process and all mail use that user.

    with DovecotServer() as imap:
        imap.add_user("support", "secret")
        await imap.append("support", raw_bytes)            # IMAP APPEND
        imap.kick("support")                               # drop its connections
        imap.recreate_folder("support", "INBOX")           # new UIDVALIDITY
        imap.add_oauth2_token("support", "ya29.x")         # XOAUTH2 / OAUTHBEARER login
        imap.create_folder("support", "고객문의/환불")       # non-ASCII, nested with "/"

OAuth2 bearer tokens are checked by Dovecot's oauth2 passdb against a small
RFC 7662 introspection endpoint the helper serves on loopback; a token may be
given a lifetime, after which introspection answers ``"active": false`` (as
Google's and Microsoft's do for an expired token).

Folder names are text here (``받은편지함``); IMAP commands carry them in
modified UTF-7 and doveadm takes UTF-8. The hierarchy separator is ``/``
(as Gmail and Exchange show it), on Maildir++ storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import aioimaplib
from imap_tools.imap_utf7 import utf7_encode

from tools.testing.system import free_port


class DovecotNotInstalled(RuntimeError):
    """``dovecot`` is not on this machine: ``apt-get install -y dovecot-imapd``."""


class DovecotError(RuntimeError):
    pass


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise DovecotNotInstalled(
        f"{name} not found: install the Debian package dovecot-imapd (apt-get install -y "
        "dovecot-imapd) to run the IMAP tests"
    )


class DovecotServer:
    host = "127.0.0.1"

    def __init__(self, *, idle_check_interval_s: int = 1) -> None:
        self.dovecot = _binary("dovecot")
        self.doveadm = _binary("doveadm")
        self.openssl = _binary("openssl")
        self.idle_check_interval_s = idle_check_interval_s
        self.root = Path(tempfile.mkdtemp(prefix="omnidesk-dovecot-"))
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.config_file = self.root / "dovecot.conf"
        self.passwd_dir = self.root / "users"
        self.cert_file = self.root / "tls" / "cert.pem"
        self.key_file = self.root / "tls" / "key.pem"
        self.log_file = self.root / "log" / "dovecot.log"
        self._users: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self.oauth2_conf = self.root / "oauth2.conf.ext"
        self._tokens: dict[str, tuple[str, float | None]] = {}  # token -> (user, expiry)
        self.introspections = 0  # requests Dovecot made to the introspection endpoint
        self._introspection: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------

    def start(self, timeout_s: float = 20.0) -> DovecotServer:
        self._prepare_tree()
        self._make_certificate()
        self._start_introspection()
        self.config_file.write_text(self._config())
        self._process = subprocess.Popen(
            [self.dovecot, "-F", "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "log" / "master.stderr").open("wb"),
        )
        self._wait_until_serving(timeout_s)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._introspection is not None:
            self._introspection.shutdown()
            self._introspection.server_close()
            self._introspection = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    # -- users and mail -------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add a login: one passwd-file per user, so a running Dovecot sees it at once
        (a shared file is re-read only when its mtime second changes)."""
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"user name {name!r}: letters, digits, - _ . only")
        self._users[name] = password
        path = self.passwd_dir / name
        temp = path.with_suffix(".tmp")
        temp.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        temp.chmod(0o644)
        os.replace(temp, path)

    def password(self, user: str) -> str:
        return self._users[user]

    def add_oauth2_token(self, user: str, token: str, *, lifetime_s: float | None = None) -> None:
        """Accept ``token`` as an OAuth2 bearer token of ``user`` (SASL XOAUTH2/OAUTHBEARER),
        for ``lifetime_s`` seconds if given.

        Dovecot checks tokens against a small introspection endpoint this helper
        serves on loopback, as it would against Google's or Microsoft's.
        """
        expiry = time.monotonic() + lifetime_s if lifetime_s is not None else None
        self._tokens[token] = (user, expiry)

    def revoke_oauth2_token(self, token: str) -> None:
        self._tokens.pop(token, None)

    async def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """APPEND one message over IMAP as ``user`` (``folder`` as text: 받은편지함)."""
        async with self.imap_session(user) as client:
            await _append(client, raw, folder)

    @contextlib.asynccontextmanager
    async def appender(self, user: str) -> AsyncIterator[Callable[[bytes, str], Awaitable[None]]]:
        """One logged-in connection for many APPENDs (benchmarks)."""
        async with self.imap_session(user) as client:

            async def append(raw: bytes, folder: str = "INBOX") -> None:
                await _append(client, raw, folder)

            yield append

    @contextlib.asynccontextmanager
    async def imap_session(self, user: str) -> AsyncIterator[aioimaplib.IMAP4]:
        client = aioimaplib.IMAP4(host=self.host, port=self.imap_port, timeout=15)
        await client.wait_hello_from_server()
        response = await client.login(user, self._users[user])
        if response.result != "OK":
            raise DovecotError(f"login {user} failed: {response.lines}")
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.logout(), 5)

    def create_folder(self, user: str, folder: str) -> None:
        self._doveadm("mailbox", "create", "-u", user, folder)

    def delete_folder(self, user: str, folder: str) -> None:
        self._doveadm("mailbox", "delete", "-u", user, folder)

    def recreate_folder(self, user: str, folder: str) -> int:
        """Delete and create ``folder`` (INBOX included): a new UIDVALIDITY. Returns it."""
        before = self.uidvalidity(user, folder)
        if folder.upper() == "INBOX":
            # INBOX cannot be deleted; expunging it and resetting its index
            # forces a new UIDVALIDITY, as a server migration would.
            self._doveadm("expunge", "-u", user, "mailbox", folder, "all")
            self._reset_maildir_uidlist(user, folder)
        else:
            self.delete_folder(user, folder)
            self.create_folder(user, folder)
        deadline = time.monotonic() + 5
        while (after := self.uidvalidity(user, folder)) == before and time.monotonic() < deadline:
            time.sleep(0.2)  # Dovecot takes UIDVALIDITY from the clock in seconds
            self._reset_maildir_uidlist(user, folder)
        return after

    def uidvalidity(self, user: str, folder: str) -> int:
        return int(self._status(user, folder, "uidvalidity"))

    def message_count(self, user: str, folder: str = "INBOX") -> int:
        return int(self._status(user, folder, "messages"))

    def flags(self, user: str, folder: str = "INBOX") -> list[str]:
        """The flags of each message in the folder, in UID order."""
        output = self._doveadm("fetch", "-u", user, "flags", "mailbox", folder, "all")
        return [
            line.split(":", 1)[1].strip()
            for line in output.splitlines()
            if line.startswith("flags:")
        ]

    def kick(self, user: str) -> bool:
        """Disconnect every IMAP session of ``user``; False if none was connected."""
        try:
            self._doveadm("kick", user)
        except DovecotError as exc:
            if "(68)" in str(exc):  # EX_NOUSER: nobody of that name was connected
                return False
            raise
        return True

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's self-signed certificate."""
        context = ssl.create_default_context(cafile=str(self.cert_file))
        return context

    # -- internals ------------------------------------------------------------

    def _status(self, user: str, folder: str, field: str) -> str:
        output = self._doveadm("-f", "flow", "mailbox", "status", "-u", user, field, folder)
        return output.strip().split("=", 1)[1]

    def _doveadm(self, *args: str) -> str:
        result = subprocess.run(
            [self.doveadm, "-c", str(self.config_file), *args],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise DovecotError(
                f"doveadm {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout.decode(errors="replace")

    def _reset_maildir_uidlist(self, user: str, folder: str) -> None:
        maildir = self.root / "mail" / user
        if folder.upper() != "INBOX":  # Maildir++: ".<modified UTF-7 name, / as .>"
            maildir = maildir / f".{utf7_encode(folder).decode().replace('/', '.')}"
        for name in (
            "dovecot-uidlist",
            "dovecot.index",
            "dovecot.index.log",
            "dovecot.index.cache",
        ):
            with contextlib.suppress(FileNotFoundError):
                (maildir / name).unlink()

    def _owner(self) -> tuple[int, int, str, str]:
        """uid, gid of mail; the login user; the internal user."""
        if os.geteuid() == 0:
            try:
                mail = pwd.getpwnam("dovecot")
                pwd.getpwnam("dovenull")
            except KeyError as exc:
                raise DovecotNotInstalled(
                    f"system user missing ({exc}); reinstall dovecot-core"
                ) from exc
            return mail.pw_uid, mail.pw_gid, "dovenull", "dovecot"
        me = pwd.getpwuid(os.geteuid())
        return me.pw_uid, me.pw_gid, me.pw_name, me.pw_name

    def _prepare_tree(self) -> None:
        uid, gid, _, _ = self._owner()
        self.root.chmod(0o755)  # the unprivileged Dovecot processes must reach their files
        for name in ("run", "state", "log", "tls", "mail", "home", "users"):
            (self.root / name).mkdir(exist_ok=True)
        for name in ("mail", "home"):
            os.chown(self.root / name, uid, gid)

    def _make_certificate(self) -> None:
        subprocess.run(
            [
                self.openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", str(self.key_file), "-out", str(self.cert_file),
                "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        self.key_file.chmod(0o600)

    def _start_introspection(self) -> None:
        tokens = self._tokens
        server = self

        class Introspect(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # RFC 7662 token introspection
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                server.introspections += 1
                user, expiry = tokens.get((form.get("token") or [""])[0], (None, None))
                if expiry is not None and time.monotonic() >= expiry:
                    user = None  # expired: RFC 7662 §2.2 says inactive, nothing more
                body = {"active": True, "username": user} if user else {"active": False}
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        http = ThreadingHTTPServer((self.host, 0), Introspect)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        self._introspection = http
        self.oauth2_conf.write_text(
            "introspection_mode = post\n"
            f"introspection_url = http://{self.host}:{http.server_address[1]}/introspect\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        self.oauth2_conf.chmod(0o644)

    def _config(self) -> str:
        uid, gid, login_user, internal_user = self._owner()
        dh = "/usr/share/dovecot/dh.pem"
        dh_line = f"ssl_dh = <{dh}\n" if Path(dh).exists() else ""
        root = self.root
        return f"""\
protocols = imap
listen = {self.host}
instance_name = omnidesk-test-{self.imap_port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_file}
info_log_path = {self.log_file}
ssl = yes
ssl_cert = <{self.cert_file}
ssl_key = <{self.key_file}
{dh_line}disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
first_valid_uid = {uid}
last_valid_uid = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name}
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
mailbox_idle_check_interval = {self.idle_check_interval_s} secs
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {self.passwd_dir}/%u
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {self.oauth2_conf}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
# Tests log in with wrong passwords on purpose; Dovecot's per-IP penalty would
# then slow every other login from 127.0.0.1 (up to 15 s).
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    def _wait_until_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                stderr = (self.root / "log" / "master.stderr").read_text(errors="replace")
                raise DovecotError(f"dovecot exited at start: {stderr}\n{self.log_tail()}")
            if _greets(self.host, self.imap_port):
                return
            time.sleep(0.1)
        self.stop()
        raise DovecotError(f"dovecot did not serve within {timeout_s}s")


def _greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


async def _append(client: aioimaplib.IMAP4, raw: bytes, folder: str) -> None:
    response = await client.append(raw, mailbox=f'"{utf7_encode(folder).decode()}"')
    if response.result != "OK":
        raise DovecotError(f"APPEND to {folder} failed: {response.lines}")


@contextlib.contextmanager
def running_dovecot() -> Iterator[DovecotServer]:
    """``with running_dovecot() as imap:`` — started, and removed afterwards."""
    server = DovecotServer()
    try:
        yield server.start()
    finally:
        server.stop()
