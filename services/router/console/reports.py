"""The desk's pattern analysis (pure): figures from plain conversation facts, as SVG and CSV.

Charts are SVG built here with presentation attributes only (no inline style or
script), so they read without JavaScript and pass the console's CSP.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape

from services.router.service.assistant_report import AssistantReport

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: First-response buckets in minutes (upper bounds); the last is open-ended.
BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 240, 480)


@dataclass(frozen=True)
class Facts:
    channel: str
    queue: str
    opened_at: datetime
    first_response_at: datetime | None
    first_response_due_at: datetime | None
    resolved_at: datetime | None
    measured: bool  # under an SLA policy and not automated
    breached: bool
    csat: int | None


@dataclass(frozen=True)
class Table:
    """One chart's data: what the CSV download holds."""

    name: str
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return out.getvalue()


def volume_heatmap(facts: list[Facts]) -> Table:
    """Conversations opened per channel, weekday and hour (UTC)."""
    counts = Counter((f.channel, f.opened_at.weekday(), f.opened_at.hour) for f in facts)
    rows = [(channel, WEEKDAYS[day], hour, n) for (channel, day, hour), n in sorted(counts.items())]
    return Table("volume", ("channel", "weekday", "hour", "opened"), rows)


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def bucket_label(upper: int | None, lower: int) -> str:
    return f"{lower}-{upper} min" if upper is not None else f">{lower} min"


def first_response_distribution(facts: list[Facts]) -> tuple[Table, float | None]:
    """How many first responses fell in each bucket, and the median promise in minutes."""
    counts = [0] * (len(BUCKETS) + 1)
    promises: list[float] = []
    for f in facts:
        if f.first_response_due_at is not None:
            promises.append(_minutes(f.opened_at, f.first_response_due_at))
        if f.first_response_at is None:
            continue
        taken = _minutes(f.opened_at, f.first_response_at)
        index = next((i for i, upper in enumerate(BUCKETS) if taken <= upper), len(BUCKETS))
        counts[index] += 1
    lowers = (0, *BUCKETS)
    rows = [
        (bucket_label(BUCKETS[i] if i < len(BUCKETS) else None, lowers[i]), counts[i])
        for i in range(len(counts))
    ]
    promise = round(statistics.median(promises), 1) if promises else None
    return Table("first_response", ("bucket", "conversations"), rows), promise


def daily_trends(facts: list[Facts]) -> Table:
    """Per day opened: SLA attainment, CSAT average, resolution rate."""
    by_day: dict[date, list[Facts]] = defaultdict(list)
    for f in facts:
        by_day[f.opened_at.date()].append(f)
    rows: list[tuple[object, ...]] = []
    for day in sorted(by_day):
        group = by_day[day]
        measured = [f for f in group if f.measured]
        scores = [f.csat for f in group if f.csat is not None]
        rows.append(
            (
                day.isoformat(),
                len(group),
                round(sum(not f.breached for f in measured) / len(measured), 4) if measured else "",
                round(statistics.fmean(scores), 2) if scores else "",
                len(scores),
                round(sum(f.resolved_at is not None for f in group) / len(group), 4),
            )
        )
    header = ("day", "opened", "sla_attainment", "csat_average", "csat_responses", "resolved")
    return Table("trends", header, rows)


# -- SVG -------------------------------------------------------------------------------


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def heatmap_svg(table: Table, title: str) -> str:
    channels = sorted({row[0] for row in table.rows}) or ["-"]
    cell, left, top = 5, 70, 18
    peak = max((int(row[3]) for row in table.rows), default=0) or 1
    body = [
        f'<text x="{left + day * 24 * cell}" y="12" font-size="10">{name}</text>'
        for day, name in enumerate(WEEKDAYS)
    ]
    counts = {(r[0], WEEKDAYS.index(str(r[1])), int(r[2])): int(r[3]) for r in table.rows}
    for y, channel in enumerate(channels):
        row_y = top + y * 22
        body.append(f'<text x="0" y="{row_y + 14}" font-size="11">{escape(str(channel))}</text>')
        for day in range(7):
            for hour in range(24):
                n = counts.get((channel, day, hour), 0)
                shade = 245 - int(200 * n / peak)
                body.append(
                    f'<rect x="{left + (day * 24 + hour) * cell}" y="{row_y}" width="{cell - 1}" '
                    f'height="20" fill="rgb({shade},{shade},255)"><title>{escape(str(channel))} '
                    f"{WEEKDAYS[day]} {hour:02d}h: {n}</title></rect>"
                )
    return _svg(left + 168 * cell + 4, top + 22 * len(channels) + 4, title, body)


def bars_svg(
    labels: list[str], values: list[float], title: str, *, marker: int | None = None
) -> str:
    """Vertical bars; ``marker`` draws the promise line before that bar index."""
    width, height, base = 60 * max(len(labels), 1) + 20, 200, 160
    peak = max(values, default=0) or 1
    body = [f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#888"/>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = int(140 * value / peak)
        x = 15 + i * 60
        body.append(
            f'<rect x="{x}" y="{base - h}" width="44" height="{h}" fill="#4a7bd0">'
            f"<title>{escape(label)}: {value}</title></rect>"
            f'<text x="{x}" y="{base - h - 3}" font-size="10">{value:g}</text>'
            f'<text x="{x}" y="{base + 14}" font-size="9">{escape(label)}</text>'
        )
    if marker is not None:
        x = 12 + marker * 60
        body.append(
            f'<line x1="{x}" y1="10" x2="{x}" y2="{base}" stroke="#d33" stroke-dasharray="4 3"/>'
        )
    return _svg(width, height, title, body)


def promise_bucket(promise: float | None) -> int | None:
    """Index of the first bucket beyond the promise (where the red line is drawn)."""
    if promise is None:
        return None
    return next((i + 1 for i, upper in enumerate(BUCKETS) if promise <= upper), len(BUCKETS))


def assistant_table(report: AssistantReport, *, top: int = 10) -> Table:
    """The assistant's report (the one ``GET /reports/assistant`` serves) as one CSV:
    the counts and deflection rate, then handoff reasons, then the top unanswered."""
    rate = "" if report.deflection_rate is None else report.deflection_rate
    rows: list[tuple[object, ...]] = [
        ("summary", "offered", report.offered),
        ("summary", "resolved", report.resolved),
        ("summary", "handed_off", report.handed_off),
        ("summary", "holding", report.holding),
        ("summary", "reopened", report.reopened),
        ("summary", "deflection_rate", rate),
    ]
    rows += [("handoff_reason", reason, n) for reason, n in report.handoff_reasons.items()]
    rows += [("unanswered", group.example, group.count) for group in report.unanswered[:top]]
    return Table("assistant", ("section", "item", "value"), rows)
