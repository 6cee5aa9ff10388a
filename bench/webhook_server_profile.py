"""Where a webhook service's CPU goes, whole process over HTTP: cProfile of the running
service (uvicorn, app, Kafka client) at a fixed rate, only during the measured window.

``bench/webhook_server_callgrind.py`` counts the process's instructions but callgrind
sees only C functions (the interpreter's); ``bench/webhook_profile.py`` profiles the app
alone. This runs ``python -m <service>`` (from the current directory) under a profiler
that SIGUSR1 starts and SIGUSR2 stops and dumps, warms the service up, then profiles
``--seconds`` of ``--rate`` requests/s and prints the functions with the most cumulative
and own CPU time (process time, not wall: the machine is shared; cProfile's overhead
inflates every figure, compare ranks)::

    python -m bench.webhook_server_profile [--target chat] [--rate 100] [--seconds 20]
        [--sort cumulative|tottime] [--limit 60]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.webhook_load import TARGETS
from bench.webhook_rate_cpu import _drive, one_worker_service

#: Run in the service process: the profiler on SIGUSR1, off and dumped on SIGUSR2.
_WRAPPER = """
import cProfile, runpy, signal, sys, time
out, module = sys.argv[1], sys.argv[2]
profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
def _stop(*_):
    profiler.disable()
    profiler.dump_stats(out)
signal.signal(signal.SIGUSR2, _stop)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="chat")
    parser.add_argument("--provider", default=None)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()
    target = TARGETS[args.target](args.provider)
    out = Path(tempfile.mkdtemp(prefix="webhook-server-profile-")) / "profile.out"
    with one_worker_service(target, [sys.executable, "-c", _WRAPPER, str(out)]) as (proc, port):
        asyncio.run(_drive(target, port, 100, 3.0, 90_000_000, args.connections))
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGUSR1)
        figures = asyncio.run(_drive(target, port, args.rate, args.seconds, 0, args.connections))
        os.kill(proc.pid, signal.SIGUSR2)
        for _ in range(100):
            if out.exists():
                break
            time.sleep(0.1)
        time.sleep(0.5)
    answered = sum(figures["statuses"].values())
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.sort_stats(args.sort).print_stats(args.limit)
    print(f"statuses {figures['statuses']}; {answered} requests; profile {out}")
    print(text.getvalue())


if __name__ == "__main__":
    main()
