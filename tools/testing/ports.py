"""Loopback ports for services a test or bench starts, outside the kernel's ephemeral range.

Services are restarted on the port they were first given: the fault suite kills one
with SIGKILL and starts it again, and every client holds its URL. A port from
``bind(("127.0.0.1", 0))`` lies in the ephemeral range, which the kernel also hands out
as the local port of outgoing connections; on a busy machine one did take a killed
router's port, its restart failed with EADDRINUSE, and every later scenario of the
fault suite found nothing routed (CI on 2026-11-30, port 54481 of 32768-60999).
Below that range the kernel gives a port only to whoever binds it by number.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Ports at or above this and below the ephemeral range are picked from.
LOWEST_PORT = 20_000
#: Where Linux keeps the ephemeral range ("low high").
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: Linux's default range, for a system without that file.
DEFAULT_EPHEMERAL_RANGE = (32_768, 60_999)
#: Random tries before falling back to a port the kernel chooses.
TRIES = 200

#: Ports this process handed out: a port is given once, even if its service has not bound
#: it yet (a test may pick several before starting any).
_handed_out: set[int] = set()


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's (low, high) range of ports for outgoing connections."""
    try:
        low, high = path.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_RANGE


def bindable(port: int) -> bool:
    """Nothing on loopback holds ``port`` now (listening or connected)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, rng: random.Random | None = None, path: Path = EPHEMERAL_RANGE_FILE) -> int:
    """A loopback port nothing holds, below the ephemeral range when there is room there;
    never the same one twice in this process."""
    pick = rng or random
    low, _high = ephemeral_range(path)
    if low - LOWEST_PORT >= 1_000:
        for _ in range(TRIES):
            port = pick.randrange(LOWEST_PORT, low)
            if port not in _handed_out and bindable(port):
                _handed_out.add(port)
                return port
    # A range that leaves no room below it (or a crowded one): the kernel's choice.
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
