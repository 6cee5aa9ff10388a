"""The log record of accepted webhook events: one INFO summary per minute, each event at DEBUG.

One INFO line per accepted event cost ~38 µs of a ~150 µs request (the
LogRecord, the JSON formatter and the write; ``bench/webhook_profile.py
--log-level INFO`` against ``WARNING``) — a quarter of the app's CPU, for a
line that repeats what the event on Kafka already says. So at INFO a service
writes one line per ``interval_s`` with the events it accepted, counted by
provider, integration and outcome (an operator sees that a desk's traffic
arrives and how much of it repeats), and the per-event line — event id,
provider, integration, kind — only at DEBUG. To find one customer's message
the durable record is the interactions topic (every accepted event, keyed by
customer); ``<SERVICE>_LOG_EACH_EVENT=true`` brings the per-event lines back
at INFO (``<SERVICE>_LOG_LEVEL=DEBUG`` shows them too, with everything else).
Failures are never summarised: rejections, dead letters and publish failures
keep their own WARNING lines with the event or request they concern.

The summary is written by the first event after the interval ends (no timer
task) and by :meth:`EventLog.flush` when the service stops, so a quiet service
holds its last counts until then.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

#: Seconds one INFO summary covers.
SUMMARY_INTERVAL_S = 60.0


class EventLog:
    """Counts accepted events for the INFO summary; logs each one at DEBUG."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        each_at_info: bool = False,
        interval_s: float = SUMMARY_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``each_at_info``: the per-event lines at INFO too (the desk wants every event logged)."""
        self._log = logger
        self._what = what  # "chat event", "call event"
        self._each_level = logging.INFO if each_at_info else logging.DEBUG
        self._interval_s = interval_s
        self._clock = clock
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._since = clock()

    @property
    def logs_each(self) -> bool:
        """Whether :meth:`accepted` writes a line per event (callers may skip its fields)."""
        return self._log.isEnabledFor(self._each_level)

    def counted(self, outcome: str, provider: str, integration: str) -> None:
        """:meth:`accepted` for a caller that found :attr:`logs_each` false: counted into the
        summary, no per-event line, the level not asked again."""
        self._counts[provider, integration, outcome] += 1
        if self._clock() - self._since >= self._interval_s:
            self.flush()

    def accepted(self, outcome: str, provider: str, integration: str, **fields: Any) -> None:
        """One event answered with ``outcome`` ("published", "duplicate", …)."""
        self._counts[provider, integration, outcome] += 1
        if self._log.isEnabledFor(self._each_level):
            extra = {"provider": provider, "integration": integration, **fields}
            self._log.log(self._each_level, "%s %s", self._what, outcome, extra=extra)
        if self._clock() - self._since >= self._interval_s:
            self.flush()

    def flush(self) -> None:
        """Write the summary of the events counted since the last one (none: no line)."""
        now = self._clock()
        counts, self._counts = self._counts, Counter()
        seconds, self._since = now - self._since, now
        if counts:
            self._log.info(
                "%ss in the last %.0f s: %s",
                self._what,
                seconds,
                summary_text(counts),
                extra={"events": summary_fields(counts), "seconds": round(seconds, 1)},
            )


def summary_text(counts: Mapping[tuple[str, str, str], int]) -> str:
    """``webchat/acme 4,812 published, 3 duplicate; slack/ops 12 published``."""
    by_integration: dict[tuple[str, str], list[str]] = {}
    for (provider, integration, outcome), n in sorted(counts.items()):
        by_integration.setdefault((provider, integration), []).append(f"{n:,} {outcome}")
    return "; ".join(f"{p}/{i} {', '.join(parts)}" for (p, i), parts in by_integration.items())


def summary_fields(counts: Mapping[tuple[str, str, str], int]) -> list[dict[str, Any]]:
    """The same counts as structured fields for the JSON log line."""
    return [
        {"provider": provider, "integration": integration, "outcome": outcome, "count": n}
        for (provider, integration, outcome), n in sorted(counts.items())
    ]
