"""One fault scenario: steady load, the fault, the heal, the drain, the verdict, the row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.faults.invariants import Verdict, check, intake_recovered_at, notify_recovered_at
from tests.faults.load import Endpoints, Input, LoadGenerator
from tests.faults.observe import TopicTail
from tests.faults.results import ResultsFile
from tools.testing.system import LocalSystem

Step = Callable[[], Awaitable[object]]


async def _nothing() -> None:
    return None


@dataclass
class Fault:
    name: str
    what: str  # one line for the report
    inject: Step
    heal: Step = _nothing
    hold_s: float = 0.0  # how long the fault stays before the heal starts
    path: str = "intake"  # which recovery to report: intake (→ routed) or notify (→ mail)
    kinds: frozenset[str] | None = None  # inputs the fault stands in the way of (None: all)
    #: Checks of the fault's own (e.g. where the poison went); returns violations.
    verify: Callable[[list[Input]], Awaitable[list[str]]] | None = None
    expected_failure: str = ""  # a known finding (the test is xfail-strict)
    drain_timeout_s: float | None = None  # shorter for a known failure: it will not drain
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    fault: Fault
    inputs: list[Input]
    verdict: Verdict
    row: dict
    violations: list[str]


@dataclass
class Rig:
    system: LocalSystem
    tail: TopicTail
    endpoints: Endpoints
    results: ResultsFile
    run_id: str
    rate: float = 20.0
    lead_s: float = 4.0  # steady load before the fault
    trail_s: float = 5.0  # steady load after the heal
    drain_timeout_s: float = 60.0
    notice_cursor: float = 0.0
    all_inputs: list[Input] = field(default_factory=list)
    redelivered_before: int = 0  # the checker counts over everything seen so far

    async def run(self, fault: Fault) -> Outcome:
        started = time.time()
        load = LoadGenerator(self.endpoints, self.run_id, fault.name, rate=self.rate).start()
        await asyncio.sleep(self.lead_s)
        fault_at = time.time()
        await fault.inject()
        in_place_at = time.time()  # e.g. the broker has exited: inputs from here must wait
        await asyncio.sleep(fault.hold_s)
        await fault.heal()
        healed_at = time.time()
        load.stop_after(self.trail_s)
        inputs = await load.finish()
        verdict, drained_at = await self.drain(inputs, fault.drain_timeout_s)
        violations = await fault.verify(inputs) if fault.verify else []
        recovered_at = (
            notify_recovered_at(self.tail.seen, in_place_at)
            if fault.path == "notify"
            else intake_recovered_at(inputs, self.tail.seen, in_place_at, fault.kinds)
        )
        row = {
            "fault": fault.name,
            "what": fault.what,
            "inputs_sent": verdict.sent,
            "accepted": verdict.accepted,
            "refused": verdict.refused,
            "notifications": verdict.notices,
            "lost": verdict.lost,
            "duplicated": verdict.duplicated,
            "redelivered_same_id": verdict.redelivered - self.redelivered_before,
            "fault_duration_s": round(healed_at - fault_at, 2),
            "recovery_s": _since(recovered_at, fault_at),
            "recovery_after_heal_s": _since(recovered_at, healed_at),
            "recovery_measure": fault.path,
            "drained_s": round(drained_at - _last_accepted(inputs, healed_at), 2),
            "scenario_s": round(time.time() - started, 1),
            "other_violations": violations,
            "detail": verdict.summary() if verdict.lost or verdict.duplicated else "",
            "notes": fault.notes,
            "expected_failure": fault.expected_failure,
        }
        self.all_inputs.extend(inputs)
        self.redelivered_before = verdict.redelivered
        self.results.add(row)
        self.results.dump_observation(self.tail.seen, fault.name)
        return Outcome(fault, inputs, verdict, row, violations)

    async def drain(
        self, inputs: list[Input], timeout_s: float | None = None
    ) -> tuple[Verdict, float]:
        """Poll until nothing is missing and the topics are quiet, or the deadline."""
        deadline = time.monotonic() + (timeout_s or self.drain_timeout_s)
        last_count, quiet_since = -1, time.monotonic()
        while True:
            verdict = check(inputs, self.tail.seen, since=self.notice_cursor)
            count = self.tail.records + len(self.tail.seen.mails)
            if count != last_count:
                last_count, quiet_since = count, time.monotonic()
            settled = not verdict.pending and time.monotonic() - quiet_since >= 1.5
            if settled or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        drained_at = time.time()
        notices = [n.at for n in self.tail.seen.notices if n.at >= self.notice_cursor]
        if notices:
            self.notice_cursor = max(notices) + 1e-6
        return verdict, drained_at

    async def in_thread(self, func: Callable[..., object], *args: object, **kwargs: object):
        """Blocking lifecycle calls run beside the loop, so the load keeps flowing."""
        return await asyncio.to_thread(func, *args, **kwargs)

    async def kill_and_restart(self, name: str) -> None:
        await self.in_thread(self.system.kill, name)
        await self.in_thread(self.system.start, name, timeout=90)


def _last_accepted(inputs: list[Input], default: float) -> float:
    """When the last input was accepted: the drain is measured from there."""
    return max((i.accepted_at for i in inputs if i.accepted_at is not None), default=default)


def _since(moment: float | None, start: float) -> float | None:
    return None if moment is None else round(max(0.0, moment - start), 2)
