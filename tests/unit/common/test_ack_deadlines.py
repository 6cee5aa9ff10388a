"""AckDeadlines: each record's future fails at its own deadline, with one timer for all."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from libs.common.kafka.producer import AckDeadlines
from tests.helpers.manual_loop import ManualLoop


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


async def test_one_timer_bounds_many_records() -> None:
    loop, deadlines = ManualLoop(), AckDeadlines()
    futures = [_future() for _ in range(50)]
    for n, future in enumerate(futures):
        deadlines.add(loop, 102.5 + n * 0.001, future)  # type: ignore[arg-type]
    assert loop.pending_timers == 1


async def test_a_record_not_acked_fails_at_its_deadline_not_before() -> None:
    loop, deadlines = ManualLoop(), AckDeadlines()
    first, second = _future(), _future()
    deadlines.add(loop, 102.5, first)  # type: ignore[arg-type]
    loop.run_until(101.0)
    deadlines.add(loop, 103.5, second)  # type: ignore[arg-type]
    loop.run_until(102.4)
    assert not first.done()
    loop.run_until(102.5)
    assert isinstance(first.exception(), TimeoutError)
    assert not second.done()  # its own deadline is later: the timer was set again for it
    loop.run_until(103.49)
    assert not second.done()
    loop.run_until(103.5)
    assert isinstance(second.exception(), TimeoutError)
    assert loop.pending_timers == 0


async def test_acked_records_are_left_alone_and_dropped() -> None:
    loop, deadlines = ManualLoop(), AckDeadlines()
    acked, late = _future(), _future()
    deadlines.add(loop, 102.5, acked)  # type: ignore[arg-type]
    acked.set_result("metadata")
    deadlines.add(loop, 102.6, late)  # type: ignore[arg-type]
    assert len(deadlines) == 1  # the acked one went when the next came
    loop.run_until(110.0)
    assert acked.result() == "metadata"
    assert isinstance(late.exception(), TimeoutError)
    assert len(deadlines) == 0


@pytest.mark.parametrize("acked", [True, False])
async def test_release_drops_the_timer_only_when_nothing_waits(acked: bool) -> None:
    loop, deadlines = ManualLoop(), AckDeadlines()
    future = _future()
    deadlines.add(loop, 102.5, future)  # type: ignore[arg-type]
    if acked:
        future.set_result("metadata")
    deadlines.release()
    assert loop.pending_timers == (0 if acked else 1)
    if not acked:
        loop.run_until(102.5)
        assert isinstance(future.exception(), TimeoutError)


async def test_a_new_loop_gets_its_own_timer() -> None:
    deadlines = AckDeadlines()
    old, new = ManualLoop(), ManualLoop()
    deadlines.add(old, 102.5, _future())  # type: ignore[arg-type]
    late = _future()
    deadlines.add(new, 102.5, late)  # type: ignore[arg-type]
    assert new.pending_timers == 1
    new.run_until(102.5)
    assert isinstance(late.exception(), TimeoutError)


async def test_a_deadline_earlier_than_one_queued_is_still_kept() -> None:
    # send_timeout_s made shorter while records wait: the new record fails at its own time
    loop = asyncio.get_running_loop()
    deadlines = AckDeadlines()
    patient, hasty = _future(), _future()
    deadlines.add(loop, loop.time() + 3600, patient)
    deadlines.add(loop, loop.time(), hasty)
    with pytest.raises(TimeoutError):
        await hasty
    assert not patient.done()
    patient.cancel()
    deadlines.release()
