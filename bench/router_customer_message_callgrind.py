"""Instructions of a new conversation's ``clocks.on_customer_message``, under callgrind.

What routing does when a customer's message opens a conversation (its status, both
clocks' dues, their timer rows queued, the conversation's values set in place), on
conversations made as ``interactions._new_conversation`` makes them (every column, the
sample policies' queue, priority and channel), at instants fixed by ``--at`` a
microsecond apart, so two trees compare at any hour (``bench.router_poll_callgrind``'s
count moves with the hour: business-hours calendars open or closed then). The rows are
made before the count; the unit of work is a bare one (its timer queues only)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/ocm.out \\
        .venv/bin/python -m bench.router_customer_message_callgrind --count 200 --at closed
    (again with --count 100: the difference / 100 is a new conversation's)

``--channel``: email (the email-30-minutes policy: business hours in Seoul) or chat
(always open). ``--at``: open (a Tuesday 10:00 KST), closed (that Tuesday 20:00).
"""

from __future__ import annotations

import argparse
import gc
import operator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from bench.router_clocks_callgrind import INSTANTS
from services.router.configuration import SAMPLE_DIR, load_config
from services.router.service.clocks import on_customer_message
from services.router.store.models import Conversation
from services.router.store.unit_of_work import UnitOfWork, _insert_columns, new_row

#: what _new_conversation sets that the clocks read; every other column None
OPENED = {
    "status": "open",
    "queue": "en-support",
    "priority": "normal",
    "automated": False,
    "resolution_elapsed_minutes": 0.0,
    "clock_cycle": 0,
    "assistant_answers": 0,
}


def opened(number: int, channel: str) -> Conversation:
    values: dict[str, object] = {key: None for key, _ in _insert_columns(Conversation).keys}
    values.update(OPENED, id=f"conv-{number}", channel=channel)
    return new_row(Conversation, values)


def customer_messages(channel: str, at: str, count: int) -> int:
    config = load_config(
        SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
    )
    ctx: Any = SimpleNamespace(config=SimpleNamespace(current=config))
    uow = object.__new__(UnitOfWork)
    uow._bulk, uow._new_timers = {}, {}
    step = timedelta(microseconds=1)
    start = INSTANTS[at]
    rows = [(opened(n, channel), start + n * step) for n in range(count + 20)]

    def run(window: list[tuple[Conversation, Any]]) -> int:
        for row, instant in window:
            on_customer_message(uow, ctx, row, instant)
        return len(window)

    run(rows[:20])  # the policy's memo, the calendar's runs: outside the window
    gc.collect()
    gc.disable()  # no collection inside the window: the rows it walks grow with --count
    # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
    return operator.call(run, rows[20:])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--at", choices=sorted(INSTANTS), default="closed")
    parser.add_argument("--channel", choices=["email", "chat"], default="email")
    args = parser.parse_args()
    done = customer_messages(args.channel, args.at, args.count)
    print(f"{done} new conversations' customer messages ({args.channel}, {args.at})")


if __name__ == "__main__":
    main()
