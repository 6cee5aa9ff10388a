"""A private PostgreSQL server for tests, on loopback, in a temporary directory.

Uses the Debian package ``postgresql`` (initdb/pg_ctl from
``/usr/lib/postgresql/<version>/bin``). Running as root, the server runs as the
``postgres`` user (``runuser -u postgres --``), since PostgreSQL refuses root.
Fails loudly when the binaries are missing — tests never skip silently.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.testing.system import free_port

INSTALL_HINT = "install it with: apt-get install -y postgresql"


class PostgresUnavailable(RuntimeError):
    pass


def find_bin_dir() -> Path:
    env = os.environ.get("PG_BIN_DIR")
    candidates = [Path(env)] if env else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if re.fullmatch(r"\d+", p.name)), key=lambda p: int(p.name)
        )
        candidates.extend(p / "bin" for p in reversed(versions))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PostgresUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}"
    )


@dataclass
class PostgresServer:
    """``start()`` → a running server; ``create_database()`` → an asyncpg URL."""

    bin_dir: Path = field(default_factory=find_bin_dir)
    port: int = field(default_factory=free_port)
    user: str = "postgres"
    root: Path | None = None
    #: Keep every acknowledged commit through a crash of the server (``pg_ctl stop -m
    #: immediate``), as a production server does. Off: commits are acknowledged before
    #: their WAL is written (``synchronous_commit=off``, faster), and the server's crash
    #: loses the last fraction of a second of them. fsync stays off either way: it only
    #: matters when the machine crashes, and no test crashes the machine.
    crash_safe: bool = False

    def _as_owner(self, *args: str | Path) -> list[str]:
        command = [str(a) for a in args]
        return ["runuser", "-u", self.user, "--", *command] if os.geteuid() == 0 else command

    def _run(self, *args: str | Path) -> None:
        result = subprocess.run(self._as_owner(*args), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(str(args[0])).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="omnidesk-pg-"))
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, self.user, self.user)
        self._run(
            self.bin_dir / "initdb",
            "-D",
            self.data_dir,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        self._run(
            self.bin_dir / "pg_ctl",
            "-D",
            self.data_dir,
            "-o",
            self.options,
            "-l",
            self.root / "server.log",
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    @property
    def options(self) -> str:
        """The server's command-line settings (``pg_ctl -o``), for a start and a restart."""
        assert self.root is not None
        synchronous_commit = "on" if self.crash_safe else "off"
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            f"-c synchronous_commit={synchronous_commit} -c full_page_writes=off "
            "-c max_connections=200"
        )

    def stop(self) -> None:
        if self.root is None:
            return
        with contextlib.suppress(PostgresUnavailable):
            self._run(self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def url(self, database: str = "postgres", *, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database; returns its SQLAlchemy asyncpg URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"bad database name {name!r}")
        self._run(
            self.bin_dir / "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f'CREATE DATABASE "{name}"',
        )
        return self.url(name)


@contextlib.contextmanager
def postgres_for_tests() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
