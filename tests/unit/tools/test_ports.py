"""free_port: ports outside the kernel's ephemeral range, each handed out once."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from tools.testing import ports


def _range_file(tmp_path: Path, low: int, high: int) -> Path:
    path = tmp_path / "ip_local_port_range"
    path.write_text(f"{low}\t{high}\n")
    return path


def test_ports_are_below_the_ephemeral_range_and_free(tmp_path: Path) -> None:
    path = _range_file(tmp_path, 32_768, 60_999)
    picked = [ports.free_port(rng=random.Random(seed), path=path) for seed in range(50)]
    assert all(ports.LOWEST_PORT <= port < 32_768 for port in picked)
    assert len(set(picked)) == len(picked)  # never the same port twice in a process
    for port in picked:  # each is bindable on loopback right after it is handed out
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


class _Scripted(random.Random):
    """Picks the given ports in order."""

    def __init__(self, *picks: int) -> None:
        super().__init__(0)
        self._picks = list(picks)

    def randrange(self, *_args: object, **_kwargs: object) -> int:  # type: ignore[override]
        return self._picks.pop(0)


def test_a_port_in_use_or_handed_out_before_is_skipped(tmp_path: Path) -> None:
    path = _range_file(tmp_path, 32_768, 60_999)
    held_port, given_port, next_port = (ports.free_port(path=path) for _ in range(3))
    ports._handed_out.discard(held_port)
    ports._handed_out.discard(next_port)
    with socket.socket() as held:
        held.bind(("127.0.0.1", held_port))
        held.listen()
        picked = ports.free_port(rng=_Scripted(held_port, given_port, next_port), path=path)
    assert picked == next_port


def test_no_room_below_the_range_falls_back_to_the_kernels_choice(tmp_path: Path) -> None:
    path = _range_file(tmp_path, 1_024, 65_535)
    port = ports.free_port(path=path)
    assert 1_024 <= port <= 65_535


def test_the_range_is_read_or_defaults(tmp_path: Path) -> None:
    assert ports.ephemeral_range(_range_file(tmp_path, 40_000, 50_000)) == (40_000, 50_000)
    assert ports.ephemeral_range(tmp_path / "missing") == ports.DEFAULT_EPHEMERAL_RANGE
