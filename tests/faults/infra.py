"""Stopping and starting the real servers the faults are made of."""

from __future__ import annotations

import os
import subprocess

from tools.testing.postgres import PostgresServer


def _as_owner(server: PostgresServer, *args: str) -> list[str]:
    command = [str(a) for a in args]
    return ["runuser", "-u", server.user, "--", *command] if os.geteuid() == 0 else command


def _pg_ctl(server: PostgresServer, *args: str) -> None:
    command = _as_owner(server, str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), *args)
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=90)
    if result.returncode != 0:
        raise RuntimeError(f"pg_ctl {args[-1]} failed: {result.stderr or result.stdout}")


def stop_postgres(server: PostgresServer) -> None:
    """As a crash would: no checkpoint, every connection cut."""
    _pg_ctl(server, "-m", "immediate", "-w", "stop")


def start_postgres(server: PostgresServer) -> None:
    """Start again with the options :class:`PostgresServer` started it with."""
    assert server.root is not None
    _pg_ctl(
        server,
        "-o",
        server.options,
        "-l",
        str(server.root / "server.log"),
        "-w",
        "-t",
        "60",
        "start",
    )


def psql_value(server: PostgresServer, database: str, sql: str) -> str:
    """One value from a query, for diagnostics in the report."""
    command = _as_owner(
        server,
        str(server.bin_dir / "psql"),
        "-h",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-U",
        "postgres",
        "-d",
        database,
        "-Atc",
        sql,
    )
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    return result.stdout.strip() if result.returncode == 0 else f"error: {result.stderr.strip()}"
