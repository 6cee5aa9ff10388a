"""Instructions of ``interactions._new_conversation`` a new conversation, under callgrind.

What routing does when an interaction opens a conversation, before its clocks: the
classification, the id, the reference, the row of every column. Over new customers'
interactions as ``bench.router_poll_cpu.Traffic`` makes them (a mail and a chat in
turn), the sample rules, the rows made outside any unit of work (``new_row`` only).
The interactions are made before the count; nothing here reads the wall clock, so two
trees compare at any hour::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/nc.out \\
        .venv/bin/python -m bench.router_new_conversation_callgrind --count 200
    (again with --count 100: the difference / 100 is a new conversation's)
"""

from __future__ import annotations

import argparse
import gc
import operator
from types import SimpleNamespace
from typing import Any

from bench.router_poll_cpu import Traffic
from services.router.configuration import SAMPLE_DIR, load_config
from services.router.service.interactions import Incoming, _new_conversation


def new_conversations(count: int) -> int:
    config = load_config(
        SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
    )
    ctx: Any = SimpleNamespace(config=SimpleNamespace(current=config))
    traffic = Traffic()
    # every one a new customer's first interaction (Traffic's customers 0..10 are new)
    items = [Incoming(f"nc-{n}", traffic._interaction(n, n)) for n in range(count + 20)]

    def run(window: list[Incoming]) -> int:
        made = 0
        for number, item in enumerate(window, 1000):
            made += _new_conversation(ctx, item, f"contact-{number}", number) is not None
        return made

    run(items[:20])  # the classification's memo and the rules' tests: outside the window
    gc.collect()
    gc.disable()  # no collection inside the window: the rows it keeps grow with --count
    # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
    return operator.call(run, items[20:])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    print(f"{new_conversations(args.count)} new conversations")


if __name__ == "__main__":
    main()
