"""Instructions per webhook request in the whole service process — HTTP server, app and
Kafka client — under callgrind, at a low fixed rate over HTTP.

``bench/webhook_callgrind.py`` counts the app alone (no HTTP, no Kafka); this runs
``python -m <service>`` (from the current directory) under valgrind with
instrumentation off, warms it up, then counts only the measured requests
(``callgrind_control -i on/off``). At a rate valgrind keeps up with every record
goes out in a produce request of its own, as in a quiet service, so two source
trees compare by the same work (run it from each)::

    python -m bench.webhook_server_callgrind --target phone [--rate 5 --seconds 30]

``--concurrency N --requests R`` counts R requests sent instead by N keep-alive
connections at once, each sending its next as soon as it is answered (closed loop):
the service saturated, so its produce requests carry many records each, as at full
throughput — the figure that bounds requests/s with one worker. The ack deadline is
raised (``--deadline-s``, default 30 s) so that no request times out under valgrind.

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
from typing import Any

from bench.webhook_load import TARGETS, _closed_loop, _wire
from bench.webhook_rate_cpu import _drive, one_worker_service


def _total(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def _control(pid: int, state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(pid)], check=True, capture_output=True)


def _saturated(target: Any, port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Warm-up, then ``args.requests`` counted, ``args.concurrency`` in flight (closed loop)."""
    base_url = f"http://127.0.0.1:{port}"

    def wires(first: int, count: int) -> list[bytes]:
        return [_wire(target.build_request(first + n, base_url)) for n in range(count)]

    warm, measured = wires(90_000_000, args.warm_up), wires(0, args.requests)
    asyncio.run(_closed_loop(port, warm, 3600, args.concurrency))
    time.sleep(2)
    _control(pid, "on")
    figures = asyncio.run(_closed_loop(port, measured, 3600, args.concurrency))
    _control(pid, "off")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="phone")
    parser.add_argument("--provider", default=None)
    parser.add_argument("--rate", type=int, default=5, help="requests/s (valgrind keeps up)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="closed loop: this many connections each send the next request when answered "
        "(saturated, as at full throughput); 0: the paced --rate",
    )
    parser.add_argument("--requests", type=int, default=2000, help="with --concurrency")
    parser.add_argument("--warm-up", type=int, default=1000, help="with --concurrency")
    parser.add_argument(
        "--deadline-s", type=float, default=30.0, help="the ack deadline (with --concurrency)"
    )
    args = parser.parse_args()
    target = TARGETS[args.target](args.provider)
    out = Path(tempfile.mkdtemp(prefix="webhook-server-callgrind-")) / "callgrind.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    command = [*valgrind, f"--callgrind-out-file={out}", sys.executable, "-m"]
    env = {"PYTHONHASHSEED": "0"}
    if args.concurrency:
        deadline = str(args.deadline_s)
        prefix = target.env_prefix
        env.update({f"{prefix}_ACK_DEADLINE_S": deadline, "KAFKA_SEND_TIMEOUT_S": deadline})
    service = one_worker_service(target, command, env=env, timeout=600)
    with service as (proc, port):
        if args.concurrency:
            figures = _saturated(target, port, proc.pid, args)
        else:
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
        "rate": args.rate if not args.concurrency else None,
        "concurrency": args.concurrency or None,
        "statuses": figures["statuses"],
        "instructions": instructions,
        "instructions_per_request": round(instructions / answered) if answered else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
