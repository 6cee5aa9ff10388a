"""Instructions per webhook request in the whole service process — HTTP server, app and
Kafka client — under callgrind, at a low fixed rate over HTTP.

``bench/webhook_callgrind.py`` counts the app alone (no HTTP, no Kafka); this runs
``python -m <service>`` (from the current directory) under valgrind with
instrumentation off, warms it up, then counts only the measured requests
(``callgrind_control -i on/off``). At a rate valgrind keeps up with every record
goes out in a produce request of its own, as in a quiet service, so two source
trees compare by the same work (run it from each)::

    python -m bench.webhook_server_callgrind --target phone [--rate 5 --seconds 30]

Instruction counts do not depend on the machine's speed or load, unlike CPU-seconds;
the idle loop's work during the window (timers, the producer's) is counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.webhook_load import TARGETS
from bench.webhook_rate_cpu import _drive, one_worker_service


def _total(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def _control(pid: int, state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(pid)], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="phone")
    parser.add_argument("--provider", default=None)
    parser.add_argument("--rate", type=int, default=5, help="requests/s (valgrind keeps up)")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    target = TARGETS[args.target](args.provider)
    out = Path(tempfile.mkdtemp(prefix="webhook-server-callgrind-")) / "callgrind.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    command = [*valgrind, f"--callgrind-out-file={out}", sys.executable, "-m"]
    service = one_worker_service(target, command, env={"PYTHONHASHSEED": "0"}, timeout=600)
    with service as (proc, port):
        # warm-up: imports, caches, the topic's metadata
        asyncio.run(_drive(target, port, args.rate, 60 / args.rate, 90_000_000, 4))
        time.sleep(2)
        _control(proc.pid, "on")
        figures = asyncio.run(_drive(target, port, args.rate, args.seconds, 0, 4))
        _control(proc.pid, "off")
    answered = sum(figures["statuses"].values())
    instructions = _total(out)
    result = {
        "target": args.target,
        "provider": args.provider or "default",
        "rate": args.rate,
        "statuses": figures["statuses"],
        "instructions": instructions,
        "instructions_per_request": round(instructions / answered) if answered else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
