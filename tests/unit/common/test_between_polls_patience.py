"""``between_polls_patience_s``: the between-polls hook (the memory upkeep) is put off
while the next poll's records are already fetched, after a poll that was not full, for
up to the patience; without a patience it runs after every poll as before."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from libs.common.kafka.consumer import ConsumerRunner, between_polls_due
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings


@given(
    records_waiting=st.booleans(),
    poll_full=st.booleans(),
    since_last_s=st.floats(min_value=0, max_value=10),
    patience_s=st.none() | st.floats(min_value=0, max_value=5),
)
def test_the_hook_waits_only_for_a_stream_whose_next_poll_is_here(
    records_waiting: bool, poll_full: bool, since_last_s: float, patience_s: float | None
):
    due = between_polls_due(
        records_waiting=records_waiting,
        poll_full=poll_full,
        since_last_s=since_last_s,
        patience_s=patience_s,
    )
    put_off = patience_s is not None and records_waiting and not poll_full
    assert due is (not put_off or since_last_s >= patience_s)


def _runner(patience_s: float | None, *, max_batch: int = 3) -> ConsumerRunner:
    kafka = KafkaSettings()

    async def handle(delivery: object) -> None:
        raise AssertionError("nothing is handled here")

    return ConsumerRunner(
        kafka,
        topics=["t"],
        group_id="g",
        stage="s",
        handler=handle,  # type: ignore[arg-type]
        producer=EventProducer(kafka, client_id="t"),
        max_batch=max_batch,
        between_polls=lambda: None,
        between_polls_patience_s=patience_s,
    )


def _fetched(runner: ConsumerRunner, waiting: dict[str, object]) -> None:
    """A stand-in for aiokafka's consumer whose fetcher holds ``waiting``."""
    runner._consumer = SimpleNamespace(_fetcher=SimpleNamespace(_records=waiting))  # type: ignore[assignment]


def test_a_runner_puts_the_hook_off_while_the_next_poll_is_fetched():
    runner = _runner(1.0)
    small = {"tp": [object()]}
    _fetched(runner, {})
    assert runner._between_polls_now(small)  # nothing fetched yet: now
    _fetched(runner, {"tp": object()})
    assert not runner._between_polls_now(small)  # the next poll waits: later
    assert runner._between_polls_now({"tp": [object()] * 3})  # a full poll: now
    runner._between_polls_ran -= 1.0  # its patience spent
    assert runner._between_polls_now(small)


def test_without_a_patience_or_a_fetcher_the_hook_runs_after_every_poll():
    waiting_runner = _runner(None)
    _fetched(waiting_runner, {"tp": object()})
    assert waiting_runner._between_polls_now({"tp": [object()]})
    other_aiokafka = _runner(1.0)
    other_aiokafka._consumer = SimpleNamespace()  # type: ignore[assignment]
    assert other_aiokafka._between_polls_now({"tp": [object()]})
