"""A deadline that moves later without re-arming a timer each time it moves.

The SMTP pump gives each pipelined mail its own deadline (its envelope's write plus the
relay's timeout) and moves the transaction's ``asyncio.timeout`` to it before reading
the mail's replies: ``Timeout.reschedule`` cancels its timer handle and schedules a new
one each time, once per mail. Here the timer stays where it was when the deadline only
moved later; when it fires it compares: the deadline it was set for still stands → the
timeout expires then (``reschedule`` to that time), as ``asyncio.timeout`` would; the
deadline moved → the timer is set again, for the new one. So the timeout expires at
the same moment as with a reschedule per mail, and a timer is set once per ``timeout_s``
of a busy connection instead of once per mail.
"""

from __future__ import annotations

import asyncio


class LazyDeadline:
    """``timeout``'s deadline, moved by :meth:`move`; :meth:`cancel` before leaving the
    ``async with`` of ``timeout`` (its timer would otherwise reschedule a finished one)."""

    __slots__ = ("_armed_at", "_handle", "_loop", "_timeout", "_when")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: asyncio.Timeout) -> None:
        self._loop = loop
        self._timeout = timeout
        self._when = 0.0
        self._armed_at = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def move(self, when: float) -> None:
        """The timeout expires at ``when`` (the loop's clock) unless moved again."""
        self._when = when
        if self._handle is None or when < self._armed_at:
            self._arm(when)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if self._when > self._armed_at:
            self._arm(self._when)  # moved since: not due yet
        else:
            # asyncio.timeout's own expiry: now if due, else at ``when`` (a timer may fire
            # a clock tick early)
            self._timeout.reschedule(self._when)
