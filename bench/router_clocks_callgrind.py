"""Instructions of a new conversation's SLA arithmetic, under callgrind, at fixed instants.

``bench.router_poll_callgrind`` stamps its traffic with the wall clock, so its count
moves with the hour (a business-hours calendar open or closed then). Here the same
pure work a new conversation's routing does — the first-response and resolution clocks'
due instants (``clock_dues``) and the promise's ``is_open`` — runs over the sample
policies' calendars at instants fixed by ``--at``, each a microsecond apart, so two
trees compare at any hour::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/clocks.out \\
        .venv/bin/python -m bench.router_clocks_callgrind --count 200 --at closed
    (again with --count 100: the difference / 100 is a conversation's)

``--policy`` names the sample policy (email-30-minutes: business hours in Seoul;
chat: always open). ``--at``: open (a Tuesday 10:00 KST), closed (that Tuesday 20:00).
"""

from __future__ import annotations

import argparse
import operator
from datetime import UTC, datetime, timedelta

from services.router.configuration import SAMPLE_DIR, load_config
from services.router.domain.members import FIRST_RESPONSE, RESOLUTION
from services.router.domain.sla import clock_dues

#: a new conversation's clocks, as clocks.on_customer_message starts them
CLOCKS = ((RESOLUTION, 0.0), (FIRST_RESPONSE, 0.0))
INSTANTS = {
    "open": datetime(2026, 12, 1, 1, 0, tzinfo=UTC),  # Tue 10:00 KST
    "closed": datetime(2026, 12, 1, 11, 0, tzinfo=UTC),  # Tue 20:00 KST
}


def new_conversation_clocks(policy_name: str, start: datetime, count: int) -> int:
    policies = load_config(
        SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
    ).policies
    policy = next(p for p in policies.policies if p.name == policy_name)
    calendar = policies.calendar_objects[policy.calendar]
    targets = policy.sla_targets
    step = timedelta(microseconds=1)
    instants = [start + n * step for n in range(count + 20)]

    def run(window: list[datetime]) -> int:
        found = 0
        for at in window:
            resolution, first = clock_dues(calendar, targets, CLOCKS, started_at=at)
            found += calendar.always_open or calendar.is_open(at)
            found += resolution is not None and first is not None
        return found

    run(instants[:20])  # the calendar's memos of that day made, outside the window
    # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
    return operator.call(run, instants[20:])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--at", choices=sorted(INSTANTS), default="closed")
    parser.add_argument("--policy", default="email-30-minutes")
    args = parser.parse_args()
    found = new_conversation_clocks(args.policy, INSTANTS[args.at], args.count)
    print(f"{args.count} new conversations' clocks ({args.policy}, {args.at}): {found}")


if __name__ == "__main__":
    main()
