"""Idle fetch mode: an idle consumer asks the broker twice a second, not ten times.

A consumer's fetch asks the broker to hold it until ``fetch_min_bytes`` are there or
``fetch_max_wait_ms`` is up: under load that makes fewer, fuller polls (each poll costs
a service ~4-10 ms of CPU whatever it holds). With nothing to read, the same settings
make a fetch every ``fetch_max_wait_ms`` answered empty, ~1.0-1.7 ms of the machine's
CPU each (``bench.idle_fetch_cost``): the pipeline's four idle consumers sent 41 a
second, ~8 % of two cores (``bench.broker_idle_cpu --requests``).

So after a poll that found nothing (``getmany`` waited out its whole timeout) the
fetches ask for the first byte and wait up to ``IDLE_FETCH.max_wait_ms``; the first
record that arrives answers the held fetch at once, so an idle consumer is no slower to
see it (faster: it waited for ``fetch_min_bytes`` before). The poll that returns
records switches back to the consumer's usual limits.

aiokafka reads its fetcher's ``_fetch_min_bytes`` / ``_fetch_max_wait_ms`` each time it
builds a fetch request (aiokafka 0.14, ``consumer/fetcher.py``); there is no public way
to change them on a running consumer. Where they are missing (another aiokafka), the
mode says so once and stays off: fetching keeps its usual limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    min_bytes: int
    max_wait_ms: int


#: What an idle consumer's fetch asks: the first byte, held up to half a second (the
#: consumer's poll timeout, so an idle poll still ends every ~0.5 s).
IDLE_FETCH = FetchLimits(min_bytes=1, max_wait_ms=500)


def limits_after_poll(usual: FetchLimits, found_records: bool) -> FetchLimits:
    """The limits of the next fetches: the usual ones once records flow, else idle."""
    return usual if found_records else IDLE_FETCH


class IdleFetchMode:
    """Applies ``limits_after_poll`` to a running aiokafka consumer's fetcher."""

    def __init__(self, fetcher: object, usual: FetchLimits, *, name: str) -> None:
        self._usual = usual
        self._current = usual
        self._fetcher: object | None = fetcher
        if not all(hasattr(fetcher, a) for a in ("_fetch_min_bytes", "_fetch_max_wait_ms")):
            log.warning(
                "consumer %s: this aiokafka's fetcher has no _fetch_min_bytes/"
                "_fetch_max_wait_ms; the idle fetch mode is off",
                name,
            )
            self._fetcher = None

    @property
    def current(self) -> FetchLimits:
        return self._current

    def after_poll(self, found_records: bool) -> None:
        limits = limits_after_poll(self._usual, found_records)
        if limits == self._current or self._fetcher is None:
            return
        self._current = limits
        # Read by the fetcher's next request; a fetch already held by the broker keeps
        # the limits it was sent with.
        self._fetcher._fetch_min_bytes = limits.min_bytes  # type: ignore[attr-defined]
        self._fetcher._fetch_max_wait_ms = limits.max_wait_ms  # type: ignore[attr-defined]
