"""SLA arithmetic over business-hours calendars — pure functions.

Durations are business minutes: time inside the calendar's weekly hours, in
its time zone, outside its public holidays. Arithmetic runs on UTC instants
built from local wall-clock boundaries, so DST shifts are handled by zoneinfo.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import NamedTuple
from zoneinfo import ZoneInfo

from libs.common.events.routing import SlaMetric

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: A calendar with no open hours in this many days is refused (it would never fire).
MAX_SEARCH_DAYS = 400

Interval = tuple[time, time]  # local opening, closing; closing time(0) means midnight


class CalendarError(ValueError):
    pass


def _no_holidays(_: date) -> bool:
    return False


@dataclass(frozen=True)
class BusinessCalendar:
    name: str
    timezone: str = "UTC"
    #: weekday index (0=Monday) → local opening intervals; empty mapping = always open
    weekly: Mapping[int, tuple[Interval, ...]] = field(default_factory=dict)
    is_holiday: Callable[[date], bool] = _no_holidays
    always_open: bool = False
    #: memo of intervals per local date (pure function of the fields above)
    _memo: dict[date, list[tuple[datetime, datetime]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    #: memo of open runs per local start date (``open_run``)
    _runs: dict[date, OpenRun] = field(default_factory=dict, compare=False, repr=False)
    #: the closed stretch the last clocks started in and their dues (``clock_dues``,
    #: ``ClosedGap``), in a one-item list: the dataclass is frozen
    _closed: list[ClosedGap | None] = field(
        default_factory=lambda: [None], compare=False, repr=False
    )
    #: the open stretch the last clocks started in and their amounts (``clock_dues``,
    #: ``OpenSpan``), likewise
    _open: list[OpenSpan | None] = field(default_factory=lambda: [None], compare=False, repr=False)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def hours_description(self) -> str:
        """``describe_hours`` of this calendar, worked out once (it is in every ack)."""
        return describe_hours(self)

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """Open intervals of a local date, as UTC instants."""
        found = self._memo.get(day)
        if found is None:
            found = self._memo[day] = self._compute_intervals(day)
        return found

    def _compute_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.always_open:
            return [
                (
                    _local(day, time(0), self.zone),
                    _local(day + timedelta(days=1), time(0), self.zone),
                )
            ]
        if self.is_holiday(day):
            return []
        out = []
        for opens, closes in self.weekly.get(day.weekday(), ()):
            end_day = day + timedelta(days=1) if closes == time(0) else day
            out.append((_local(day, opens, self.zone), _local(end_day, closes, self.zone)))
        return out

    def open_intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals from ``start`` on, clipped to start."""
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(MAX_SEARCH_DAYS):
            for opens, closes in self.intervals_on(day + timedelta(days=offset)):
                if closes > start:
                    yield max(opens, start), closes
        raise CalendarError(f"calendar {self.name} has no open hours within {MAX_SEARCH_DAYS} days")

    def open_run(self, start: datetime) -> OpenRun:
        """The open intervals ``open_intervals(start)`` walks, with running totals; one
        per local date, shared by every clock started that day."""
        day = start.astimezone(self.zone).date()
        run = self._runs.get(day)
        if run is None:
            if len(self._runs) >= _RUNS_KEPT:  # a long-running router: forget old days
                self._runs.clear()
            run = self._runs[day] = OpenRun(self, day - _ONE_DAY)
        return run

    def is_open(self, at: datetime) -> bool:
        closed = self._closed[0]
        if closed is not None and closed[0] <= at < closed[1]:
            # the stretch the clocks just started in (a new conversation's promise)
            return False
        opened = self._open[0]
        if opened is not None and opened[0] < at <= opened[1]:
            return True  # likewise: the span lies inside one open interval
        day = at.astimezone(self.zone).date()
        for local_date in (day - _ONE_DAY, day):  # the eve's may run past midnight
            for opens, closes in self.intervals_on(local_date):
                if opens <= at < closes:
                    return True
        return False


#: Open runs a calendar keeps (local start dates); a poll's clocks start on one or two.
_RUNS_KEPT = 32
#: A closed stretch of a calendar (``lo``, ``hi``): no open time in [lo, hi), so every
#: clock started in [lo, hi] is due at the same instants; with the dues ``clock_dues``
#: found there, by (id of the targets, clocks): (the targets, the dues).
ClosedGap = tuple[datetime, datetime, dict[tuple[int, object], tuple[object, tuple[object, ...]]]]
#: dues a closed stretch keeps (paused clocks' elapsed minutes make the keys vary)
_CLOSED_DUES_KEPT = 256
#: Starts (``lo``, ``hi``] inside one open interval of a calendar for which each due
#: instant of the clocks ``clock_dues`` found there lies in the same open interval as
#: it did (``OpenRun.due_each``): every such start is due at itself plus the same
#: amounts, kept by (id of the targets, clocks): (the targets, each clock's
#: ``ClockAmounts``).
OpenSpan = tuple[
    datetime, datetime, dict[tuple[int, object], "tuple[SlaTargets, tuple[ClockAmounts, ...]]"]
]
_MICROSECOND = timedelta(microseconds=1)
_NO_TIME = timedelta(0)
#: made once: a timedelta from keywords is ~3-7 K instructions (callgrind), and every
#: clock on business hours (``open_run``) and every promise (``is_open``) took one or two
_ONE_DAY = timedelta(days=1)


class OpenRun:
    """A calendar's open intervals from one local date's eve on — the days
    ``open_intervals`` walks, added as needed — with the open time before and up to
    the end of each, so that a due instant is found by bisection instead of a walk.
    The same exact (microsecond) timedelta sums as the walk, hence the same instants."""

    def __init__(self, calendar: BusinessCalendar, eve: date) -> None:
        self._calendar = calendar
        self._eve = eve
        #: the start of the local date whose run this is (its clocks start from here on)
        self.day_start = _local(eve + _ONE_DAY, time(0), calendar.zone)
        self._days = 0
        self.opens: list[datetime] = []
        self.closes: list[datetime] = []
        self.before: list[timedelta] = []  # open time before each interval
        self.after: list[timedelta] = []  # open time up to each interval's close
        #: False when intervals overlap or are empty: the walk alone says what they mean
        self.ordered = True

    def _add_day(self) -> None:
        if self._days >= MAX_SEARCH_DAYS:
            raise CalendarError(
                f"calendar {self._calendar.name} has no open hours within {MAX_SEARCH_DAYS} days"
            )
        for opens, closes in self._calendar.intervals_on(self._eve + timedelta(days=self._days)):
            if closes <= opens or (self.closes and opens < self.closes[-1]):
                self.ordered = False
            total = self.after[-1] if self.after else _NO_TIME
            self.opens.append(opens)
            self.closes.append(closes)
            self.before.append(total)
            self.after.append(total + (closes - opens))
        self._days += 1

    def due_each(
        self, start: datetime, amounts: list[timedelta]
    ) -> (
        tuple[list[datetime], tuple[datetime, datetime] | None, tuple[datetime, datetime] | None]
        | None
    ):
        """``start`` (UTC) plus each positive amount of open time, the closed stretch
        ``start`` is in (every start in it has the same instants: no open time between)
        or None, and the span of starts (lo, hi] around an open ``start`` each of whose
        instants is itself plus the same time as ``start``'s (an ``OpenSpan``: every
        instant stays in the open interval it is in, the start in its own) or None; None
        when the intervals are not ordered (then only the walk says what they mean)."""
        while self.ordered and (not self.closes or self.closes[-1] <= start):
            self._add_day()
        if not self.ordered:
            return None
        first = bisect_right(self.closes, start)  # the first interval closing after start
        opens = self.opens[first]
        gap: tuple[datetime, datetime] | None = None
        span: tuple[datetime, datetime] | None = None
        inside = start > opens
        if not inside:  # closed: no open time before the interval's opening
            base = self.before[first]  # + (max(opens, start) - opens), nothing
            lo = self.closes[first - 1] if first else self.day_start
            if lo <= start:
                gap = (lo, opens)
        else:
            base = self.before[first] + (start - opens)  # open time before start
            span_lo, span_hi = opens, self.closes[first] - _MICROSECOND
        found = []
        for amount in amounts:
            wanted = base + amount
            while self.after[-1] < wanted and self.ordered:
                self._add_day()
            if not self.ordered:
                return None
            at = bisect_left(self.after, wanted, lo=first)  # the interval it ends in
            due = self.opens[at] + (wanted - self.before[at])
            found.append(due)
            if inside:
                # a later start keeps this interval while its due is in (opens, closes]
                # (bisect_left: a due at a closing is that interval's, not the next's)
                shift = due - start
                if self.opens[at] - shift > span_lo:
                    span_lo = self.opens[at] - shift
                if self.closes[at] - shift < span_hi:
                    span_hi = self.closes[at] - shift
        if inside:
            span = (span_lo, span_hi)
        return found, gap, span


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Local wall time → UTC; a time skipped by DST moves forward by the gap."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC)


def add_business_minutes(calendar: BusinessCalendar, start: datetime, minutes: float) -> datetime:
    """The instant ``minutes`` of open time after ``start``."""
    return add_business_minutes_each(calendar, start, (minutes,))[0]


def add_business_minutes_each(
    calendar: BusinessCalendar, start: datetime, minutes: tuple[float, ...]
) -> list[datetime]:
    """``add_business_minutes`` for several amounts: the instants the walk over the open
    hours gives (``_walk_business_minutes``), found by bisection over the day's open run
    (clock_due 5.9 → ~3.9 µs for a 30-minute clock, 10.6 → ~3.7 µs for a two-day one)."""
    return _business_instants(calendar, start, minutes)[0]


def _business_instants(
    calendar: BusinessCalendar, start: datetime, minutes: tuple[float, ...]
) -> tuple[list[datetime], tuple[datetime, datetime] | None, tuple[datetime, datetime] | None]:
    """``add_business_minutes_each``'s instants, with the closed stretch of ``start`` and
    the span of starts due at themselves plus the same times (``OpenRun.due_each``)
    when its run said, else None."""
    # plain loops, no comprehensions: each was a function call of its own (a clock's
    # amounts are two; ~2.4 clocks a routed interaction)
    if start.tzinfo is not UTC:  # routing passes UTC instants: no conversion then
        start = start.astimezone(UTC)
    if calendar.always_open:  # open time is elapsed time: no walk (every chat clock)
        elapsed = []
        for m in minutes:
            elapsed.append(start + _minutes(m) if m > 0 else start)
        return elapsed, None, None
    amounts = []
    positive = []
    for m in minutes:
        amount = _minutes(m)
        amounts.append(amount)
        if amount > _NO_TIME:
            positive.append(amount)
    found_and_stretches = calendar.open_run(start).due_each(start, positive)
    if found_and_stretches is None:
        return _walk_business_minutes(calendar, start, amounts), None, None
    found, gap, span = found_and_stretches
    if len(found) == len(amounts):  # every amount positive (the usual clock)
        return found, gap, span
    due = iter(found)
    out = []
    for amount in amounts:
        out.append(next(due) if amount > _NO_TIME else start)
    return out, None, None  # the start itself is one of them


def _minutes(minutes: float) -> timedelta:
    """``timedelta(minutes=minutes)``, made once per amount: a clock's amounts are its
    policy's few targets and warning points, and building a timedelta from float
    minutes was ~7,000 instructions (callgrind), most of adding them to a start."""
    found = _MINUTE_DELTAS.get(minutes)
    if found is None:
        if len(_MINUTE_DELTAS) >= _MINUTE_DELTAS_KEPT:  # paused clocks' remainders vary
            _MINUTE_DELTAS.clear()
        found = _MINUTE_DELTAS[minutes] = timedelta(minutes=minutes)
    return found


_MINUTE_DELTAS: dict[float, timedelta] = {}
_MINUTE_DELTAS_KEPT = 1024


def _walk_business_minutes(
    calendar: BusinessCalendar, start: datetime, amounts: list[timedelta]
) -> list[datetime]:
    """``add_business_minutes_each`` by walking the open intervals from ``start`` (UTC)."""
    wanted = sorted((amount, n) for n, amount in enumerate(amounts))
    found: list[datetime] = [start] * len(amounts)
    pending = [(amount, n) for amount, n in wanted if amount > timedelta(0)]
    if not pending:
        return found
    used = timedelta(0)  # open time before the current interval
    for opens, closes in calendar.open_intervals(start):
        available = closes - opens
        while pending and pending[0][0] - used <= available:
            amount, n = pending.pop(0)
            found[n] = opens + (amount - used)
        if not pending:
            return found
        used += available
    raise CalendarError("unreachable")  # open_intervals raises first


def business_minutes_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Open minutes in [start, end)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0.0
    if calendar.always_open:
        return (end - start).total_seconds() / 60
    total = timedelta(0)
    for opens, closes in calendar.open_intervals(start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total.total_seconds() / 60


@dataclass(frozen=True)
class SlaTargets:
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    warning_fraction: float = 0.8

    def target(self, metric: SlaMetric) -> int | None:
        # a field read, not a dict of all three built per call (each clock started asks)
        return getattr(self, _TARGET_FIELDS[metric])  # type: ignore[no-any-return]


_TARGET_FIELDS = {
    SlaMetric.FIRST_RESPONSE: "first_response_minutes",
    SlaMetric.NEXT_RESPONSE: "next_response_minutes",
    SlaMetric.RESOLUTION: "resolution_minutes",
}


class ClockDue(NamedTuple):
    """Immutable like the frozen dataclass it was, built ~4x cheaper (a new
    conversation starts two clocks)."""

    metric: SlaMetric
    target_minutes: int
    warning_at: datetime | None  # None when the warning point already passed
    breach_at: datetime


def clock_due(
    calendar: BusinessCalendar,
    targets: SlaTargets,
    metric: SlaMetric,
    *,
    started_at: datetime,
    elapsed_minutes: float = 0.0,
) -> ClockDue | None:
    """When a clock that (re)starts at ``started_at`` warns and breaches.

    ``elapsed_minutes`` is business time already used before a pause.
    """
    target = targets.target(metric)
    if target is None:
        return None
    remaining = max(0.0, target - elapsed_minutes)
    warn_remaining = target * targets.warning_fraction - elapsed_minutes
    if warn_remaining > 0:
        warning_at, breach_at = add_business_minutes_each(
            calendar, started_at, (warn_remaining, remaining)
        )
        return ClockDue(metric, target, warning_at, breach_at)
    return ClockDue(metric, target, None, add_business_minutes(calendar, started_at, remaining))


def clock_dues(
    calendar: BusinessCalendar,
    targets: SlaTargets,
    clocks: tuple[tuple[SlaMetric, float], ...],
    *,
    started_at: datetime,
) -> list[ClockDue | None]:
    """``clock_due`` of each (metric, elapsed minutes) started at the same instant, in
    order: the same values, their instants found in one ``add_business_minutes_each``
    (one open run looked up, one bisection for the start) instead of one per clock (a
    new conversation starts two: its first-response and resolution clocks); on an
    always-open calendar each instant is the start plus the amount, as there.

    On business hours, clocks started while the calendar is closed are due at the same
    instants whenever in that closed stretch they start (no open time between): the
    dues found there are kept with the stretch (``ClosedGap``) and handed out again
    (a night's or a weekend's new conversations: one of the first-response and
    resolution dues worked out, the rest looked up). ``tests/unit/router/test_sla.py``
    holds them to the walk, over sequences of starts."""
    fraction = targets.warning_fraction
    if calendar.always_open:
        # each clock's instants are the start plus amounts that depend on the targets
        # and the clocks only: worked out once per both (``_always_open_amounts``)
        known = _ALWAYS_OPEN_AMOUNTS.get((id(targets), clocks))
        if known is None or known[0] is not targets:
            known = _always_open_amounts(targets, clocks)
        return _dues_after(started_at, known[1])
    closed = calendar._closed[0]
    if closed is not None and closed[0] <= started_at <= closed[1]:
        known = closed[2].get((id(targets), clocks))
        if known is not None and known[0] is targets:
            return list(known[1])  # type: ignore[arg-type]
    opened = calendar._open[0]
    if opened is not None and opened[0] < started_at <= opened[1]:
        known = opened[2].get((id(targets), clocks))
        if known is not None and known[0] is targets:
            return _dues_after(started_at, known[1])
    amounts: list[float] = []
    plans: list[tuple[SlaMetric, int, bool] | None] = []
    for metric, elapsed in clocks:
        target = targets.target(metric)
        if target is None:
            plans.append(None)
            continue
        warn_remaining = target * fraction - elapsed
        warns = warn_remaining > 0
        if warns:
            amounts.append(warn_remaining)
        amounts.append(target - elapsed if target > elapsed else 0.0)
        plans.append((metric, target, warns))
    if not amounts:
        return [None] * len(plans)
    instants, gap, span = _business_instants(calendar, started_at, tuple(amounts))
    dues = []
    at = 0
    for plan in plans:
        if plan is None:
            dues.append(None)
            continue
        metric, target, warns = plan
        if warns:
            dues.append(_clock_due(metric, target, instants[at], instants[at + 1]))
            at += 2
        else:
            dues.append(_clock_due(metric, target, None, instants[at]))
            at += 1
    if gap is not None:  # started while closed: the same dues for the rest of the stretch
        if closed is None or closed[0] != gap[0] or closed[1] != gap[1]:
            closed = calendar._closed[0] = (gap[0], gap[1], {})
        if len(closed[2]) < _CLOSED_DUES_KEPT:
            closed[2][(id(targets), clocks)] = (targets, tuple(dues))
    elif span is not None:  # started while open: the same times after any start in the span
        if opened is None or opened[0] != span[0] or opened[1] != span[1]:
            opened = calendar._open[0] = (span[0], span[1], {})
        if len(opened[2]) < _CLOSED_DUES_KEPT:
            opened[2][(id(targets), clocks)] = (targets, _amounts_after(started_at, dues))
    return dues


def _clock_due(
    metric: SlaMetric, target: int, warning_at: datetime | None, breach_at: datetime
) -> ClockDue:
    """``ClockDue(metric, target, warning_at, breach_at)`` without the named tuple's
    ``__new__``, a Python function (~1.3 K instructions a due, callgrind)."""
    return _new_tuple(ClockDue, (metric, target, warning_at, breach_at))  # type: ignore[no-any-return]


_new_tuple = tuple.__new__


def _dues_after(started_at: datetime, amounts: tuple[ClockAmounts, ...]) -> list[ClockDue | None]:
    """Each clock's due after ``started_at`` from its ``ClockAmounts`` (kept for an
    always-open calendar or an open span): the start (in UTC) plus each amount."""
    start = started_at if started_at.tzinfo is UTC else started_at.astimezone(UTC)
    dues: list[ClockDue | None] = []
    for clock in amounts:
        if clock is None:
            dues.append(None)
            continue
        metric, target, warning, breach = clock
        dues.append(
            _new_tuple(
                ClockDue,
                (
                    metric,
                    target,
                    None if warning is None else start + warning,
                    start if breach is None else start + breach,
                ),
            )
        )
    return dues


def _amounts_after(started_at: datetime, dues: list[ClockDue | None]) -> tuple[ClockAmounts, ...]:
    """The ``ClockAmounts`` of ``dues`` after ``started_at`` (``_dues_after``'s inverse)."""
    amounts: list[ClockAmounts] = []
    for due in dues:
        if due is None:
            amounts.append(None)
            continue
        warning_at = due.warning_at
        amounts.append(
            (
                due.metric,
                due.target_minutes,
                None if warning_at is None else warning_at - started_at,
                due.breach_at - started_at,
            )
        )
    return tuple(amounts)


#: per clock, its metric, target and the open time after its start to its warning and
#: its breach (None: no warning; the start itself), or None when the targets have none
ClockAmounts = tuple[SlaMetric, int, timedelta | None, timedelta | None] | None
#: ``clock_dues``' amounts on an always-open calendar, by (id of the targets, clocks):
#: (the targets, each clock's ``ClockAmounts``)
_ALWAYS_OPEN_AMOUNTS: dict[tuple[int, object], tuple[SlaTargets, tuple[ClockAmounts, ...]]] = {}


def _always_open_amounts(
    targets: SlaTargets, clocks: tuple[tuple[SlaMetric, float], ...]
) -> tuple[SlaTargets, tuple[ClockAmounts, ...]]:
    """What ``clock_dues`` adds to the start of ``clocks`` on an always-open calendar (as
    ``add_business_minutes_each``: the start plus each positive amount), kept: a new
    conversation's two clocks looked up, not their targets and amounts worked out
    (``tests/unit/router/test_sla.py`` holds the dues to ``clock_due``'s)."""
    fraction = targets.warning_fraction
    amounts: list[ClockAmounts] = []
    for metric, elapsed in clocks:
        target = targets.target(metric)
        if target is None:
            amounts.append(None)
            continue
        remaining = target - elapsed if target > elapsed else 0.0  # max(0.0, ...)
        warn_remaining = target * fraction - elapsed
        amounts.append(
            (
                metric,
                target,
                _minutes(warn_remaining) if warn_remaining > 0 else None,
                _minutes(remaining) if remaining > 0 else None,
            )
        )
    known = (targets, tuple(amounts))
    if len(_ALWAYS_OPEN_AMOUNTS) >= _CLOSED_DUES_KEPT:  # paused clocks' elapsed minutes vary
        _ALWAYS_OPEN_AMOUNTS.clear()
    _ALWAYS_OPEN_AMOUNTS[(id(targets), clocks)] = known
    return known


def parse_interval(text: str) -> Interval:
    """``"09:00-18:00"`` → (09:00, 18:00); ``"22:00-24:00"`` closes at midnight."""
    try:
        opens_text, closes_text = (part.strip() for part in text.split("-", 1))
        opens = time.fromisoformat(opens_text)
        closes = time(0) if closes_text == "24:00" else time.fromisoformat(closes_text)
    except ValueError:
        raise CalendarError(f"bad interval {text!r}; use HH:MM-HH:MM") from None
    if closes != time(0) and closes <= opens:
        raise CalendarError(f"interval {text!r} closes before it opens")
    return opens, closes


def describe_hours(calendar: BusinessCalendar) -> str:
    """``Mon-Fri 09:00-18:00 Asia/Seoul`` for customer acknowledgements."""
    if calendar.always_open:
        return "24/7"
    groups: list[tuple[list[int], tuple[Interval, ...]]] = []
    for day in range(7):
        hours = tuple(calendar.weekly.get(day, ()))
        if not hours:
            continue
        if groups and groups[-1][1] == hours and groups[-1][0][-1] == day - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], hours))
    parts = []
    for days, hours in groups:
        span = WEEKDAYS[days[0]].title() + (
            f"-{WEEKDAYS[days[-1]].title()}" if len(days) > 1 else ""
        )
        text = ",".join(f"{o:%H:%M}-{'24:00' if c == time(0) else f'{c:%H:%M}'}" for o, c in hours)
        parts.append(f"{span} {text}")
    return f"{'; '.join(parts)} {calendar.timezone}"
