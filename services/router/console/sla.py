"""The SLA countdown shown next to a conversation (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SlaState(StrEnum):
    NONE = "none"
    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class Countdown:
    state: SlaState
    breach_at: datetime | None
    warning_at: datetime | None
    seconds_left: int | None  # negative once breached


def countdown(
    now: datetime,
    *,
    warning_at: datetime | None,
    breach_at: datetime | None,
    breached: bool = False,
) -> Countdown:
    """Amber from the warning time, red from the breach time (or once the router says so)."""
    if breach_at is None:
        return Countdown(SlaState.BREACH if breached else SlaState.NONE, None, warning_at, None)
    left = int((breach_at - now).total_seconds())
    if breached or now >= breach_at:
        state = SlaState.BREACH
    elif warning_at is not None and now >= warning_at:
        state = SlaState.WARNING
    else:
        state = SlaState.OK
    return Countdown(state, breach_at, warning_at, left)


def format_left(seconds: int | None) -> str:
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"
