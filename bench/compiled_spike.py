"""A spike, counted in instructions: the router's and the notifier's hot pure-Python
modules compiled with mypyc against the same modules interpreted (docs/compiled.md).

mypyc ships with mypy, which is not a project dependency: install it in the venv first,
and have gcc and the interpreter's headers (``Python.h``)::

    .venv/bin/pip install mypy
    .venv/bin/python -m bench.compiled_spike measure router --size 400 --polls 3
    .venv/bin/python -m bench.compiled_spike measure router --size 25 --polls 20
    .venv/bin/python -m bench.compiled_spike measure notifier
    .venv/bin/python -m bench.compiled_spike build router   # the .so files left in place
    .venv/bin/python -m bench.compiled_spike clean          # back to interpreted code

``measure`` runs the target's callgrind bench (``bench.router_poll_callgrind``, or
``bench.notify_instructions``' pipeline mix with ``--instr-window``; PYTHONHASHSEED=0)
on interpreted code, builds the target's modules (``mypyc``: a ``.so`` beside each
``.py``, which the import system prefers, and one shared ``*__mypyc.so`` at the top of
the tree), runs the same bench on compiled code, and removes the ``.so`` files again
(``--keep`` leaves them). It prints instructions per unit (a routed interaction; a
notifier poll, which with ``--batch 3`` is one POST's events).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the modules compiled per target: the router's profile's top self-time functions
#: (docs/performance.md) and the notifier's mail path
MODULES = {
    "router": [
        "services/router/service/interactions.py",
        "services/router/service/events.py",
        "services/router/service/clocks.py",
        "services/router/service/assigning.py",
        "services/router/service/routing_cache.py",
        "services/router/domain/assignment.py",
        "services/router/store/outbox.py",
        "services/router/store/bulk.py",
    ],
    "notifier": [
        "services/notifier/mail.py",
        "services/notifier/wire.py",
        "services/notifier/rendering.py",
        "services/notifier/decisions.py",
    ],
}
#: mypyc type-checks what the modules import too: only the compiled modules' errors stop
#: it (imported code stays interpreted; third-party packages without types are Any)
MYPY_FLAGS = ["--follow-imports=silent", "--ignore-missing-imports"]
NOTIFIER_POLLS = 20


def build(modules: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "mypyc", *MYPY_FLAGS, *modules], cwd=ROOT, check=True)


def clean() -> list[Path]:
    """Every compiled module of the tree removed (the repository ships no .so of its own)."""
    found = [
        *ROOT.glob("*__mypyc.cpython-*.so"),
        *(path for top in ("services", "libs") for path in (ROOT / top).rglob("*.cpython-*.so")),
    ]
    for path in found:
        path.unlink()
    return found


def callgrind_total(out_file: Path) -> int:
    match = re.search(r"^(?:summary|totals): (\d+)", out_file.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no total in {out_file}")
    return int(match[1])


def run_bench(target: str, args: argparse.Namespace, out_file: Path) -> float:
    """Instructions per unit of the target's bench under callgrind."""
    python = sys.executable
    if target == "router":
        valgrind = ["--collect-atstart=no", "--toggle-collect=_operator_call"]
        bench = ["-m", "bench.router_poll_callgrind", "--polls", str(args.polls)]
        bench += ["--size", str(args.size)]
        units = args.polls * args.size
    else:
        valgrind = ["--instr-atstart=no"]
        bench = ["-m", "bench.notify_instructions", "--mix", "pipeline", "--batch", "3"]
        bench += ["--polls", str(NOTIFIER_POLLS), "--polls-max", str(NOTIFIER_POLLS)]
        bench += ["--warm", "4", "--instr-window", "--log-level", "WARNING"]
        units = NOTIFIER_POLLS
    command = ["valgrind", "--tool=callgrind", *valgrind, f"--callgrind-out-file={out_file}"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(
        [*command, python, *bench], cwd=ROOT, env=env, check=True, stderr=subprocess.DEVNULL
    )
    return callgrind_total(out_file) / units


def measure(args: argparse.Namespace) -> None:
    modules = MODULES[args.target]
    folder = Path(args.out or tempfile.mkdtemp(prefix="compiled-spike-"))
    clean()
    pure = run_bench(args.target, args, folder / "pure.out")
    print(f"{args.target} interpreted: {pure / 1000:,.1f} K instructions a unit", flush=True)
    build(modules)
    try:
        compiled = run_bench(args.target, args, folder / "compiled.out")
    finally:
        if not args.keep:
            clean()
    change = (compiled - pure) / pure * 100
    print(
        f"{args.target} compiled: {compiled / 1000:,.1f} K instructions a unit ({change:+.1f} %)"
        f"; callgrind files in {folder}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    measured = commands.add_parser("measure", help="interpreted vs compiled under callgrind")
    measured.add_argument("target", choices=sorted(MODULES))
    measured.add_argument("--size", type=int, default=400, help="router: interactions a poll")
    measured.add_argument("--polls", type=int, default=3, help="router: measured polls")
    measured.add_argument("--keep", action="store_true", help="leave the compiled modules")
    measured.add_argument("--out", help="folder for the callgrind files (default: a new one)")
    built = commands.add_parser("build", help="compile the target's modules in place")
    built.add_argument("target", choices=sorted(MODULES))
    commands.add_parser("clean", help="remove every compiled module")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.command == "measure":
        measure(args)
    elif args.command == "build":
        build(MODULES[args.target])
    else:
        for path in clean():
            print(f"removed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
