"""Instructions of the parts of a routing event's JSON, under callgrind: what splicing
cached pieces into the outbox payload could save (``OutboxWriter._payload``).

Each run serialises ``--count`` values one way inside ``operator.call``, so callgrind
collects exactly that loop::

    for part in snapshot snapshot-without-nested customer event event-rest; do
        valgrind --tool=callgrind --collect-atstart=no --toggle-collect=_operator_call \\
            --callgrind-out-file=/tmp/sj-$part.out \\
            .venv/bin/python -m bench.snapshot_json_parts $part
        callgrind_annotate /tmp/sj-$part.out | grep TOTALS   # / --count
    done

Parts: ``snapshot`` the snapshot's own serializer; ``snapshot-without-nested`` the same
with ``exclude`` of its five nested models (customer, flags, assignee, supervisor,
reply path); ``customer`` one nested model's serializer alone (a fragment to cache);
``event`` an ``InteractionRouted`` with its snapshot; ``event-rest`` the event without
``schema_version`` and ``conversation`` (``_SPLICED``, as ``_payload`` dumps it).

Measured this stop (callgrind, 800 each, thousand instructions each): snapshot 43.1,
without nested 30.0, customer alone 6.4; event 53.8, its rest with ``exclude`` 12.6.
The five nested models cost the snapshot's serializer ~13 K together, about what two
of them cost dumped alone: splicing fragments cached per object (each dumped once per
cause, the agents' once per poll) into a snapshot dumped without them measured 67 K a
snapshot (``exclude``, ``index``/``rindex``, ``join``) against 47 K whole (400 causes of
two snapshots each, the second one assigned), and the router's poll
(``bench.router_poll_callgrind``, 3 polls minus 1, ``PYTHONHASHSEED=0``) 899 → 931
thousand instructions per interaction: not taken.
"""

from __future__ import annotations

import argparse
import operator
from collections.abc import Callable
from datetime import UTC, datetime

from libs.common.events.interaction import CustomerIdentity, Flags
from libs.common.events.routing import AgentRef, ConversationSnapshot, InteractionRouted

T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
SUPERVISOR = AgentRef(agent_id="s-1", name="Sup", email="sup@example.com", locale="en")
NESTED = {"customer", "customer_flags", "assignee", "supervisor", "reply_path"}
SPLICED = {"schema_version", "conversation"}  # as services/router/store/outbox.py


def snapshot(n: int) -> ConversationSnapshot:
    """A mail conversation as the poll bench's: its customer, queued, a supervisor."""
    return ConversationSnapshot(
        conversation_id=f"0196f0a1-b2c3-8d4e-95f6-a7b8c9d{n:05d}",
        reference=f"C-{n}",
        channel="email",
        status="open",
        queue="general",
        priority="normal",
        language="en",
        subject="Deposit not credited",
        tags=["billing"],
        contact_id=f"0196f0a1-b2c3-8d4e-95f6-a7b8c9e{n:05d}",
        customer=CustomerIdentity(email=f"c{n}@example.com"),
        customer_flags=Flags(),
        supervisor=SUPERVISOR,
        last_message_id=f"m{n}@c{n}.example.com",
        references=[f"m{n}@c{n}.example.com"],
        first_response_due_at=T0,
        customer_last_inbound_at=T0,
    )


def parts(count: int) -> dict[str, Callable[[], None]]:
    snapshots = [snapshot(n) for n in range(count)]
    events = [
        InteractionRouted(
            conversation=each,
            occurred_at=T0,
            cause_event_id=f"e{n}",
            interaction_id=f"e{n}",
            opened_conversation=True,
        )
        for n, each in enumerate(snapshots)
    ]
    snapshot_json = ConversationSnapshot.__pydantic_serializer__.to_json
    customer_json = CustomerIdentity.__pydantic_serializer__.to_json
    event_json = InteractionRouted.__pydantic_serializer__.to_json

    def whole_snapshots() -> None:
        for each in snapshots:
            snapshot_json(each)

    def without_nested() -> None:
        for each in snapshots:
            snapshot_json(each, exclude=NESTED)

    def customers() -> None:
        for each in snapshots:
            customer_json(each.customer)

    def whole_events() -> None:
        for each in events:
            event_json(each)

    def event_rests() -> None:
        for each in events:
            event_json(each, exclude=SPLICED)

    return {
        "snapshot": whole_snapshots,
        "snapshot-without-nested": without_nested,
        "customer": customers,
        "event": whole_events,
        "event-rest": event_rests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=sorted(parts(1)))
    parser.add_argument("--count", type=int, default=800)
    args = parser.parse_args()
    chosen = parts(args.count)[args.part]
    chosen()  # warm: serializers' first calls
    operator.call(chosen)  # callgrind collects inside operator.call only
    print(f"serialised {args.count} of {args.part}")


if __name__ == "__main__":
    main()
