"""PostgreSQL: after which interactions a routed poll sends its rows ahead
(``UnitOfWork.send_ahead``, every ``RoutingOptions.send_ahead_every``)."""

from __future__ import annotations


def send_points(total: int, every: int) -> frozenset[int]:
    """The interactions (counted from 1) of a poll of ``total`` after which its rows so far
    are sent: every ``every``-th while at least ``every`` are left after it, then at half of
    what is left, and half again, while a half is at least ``every // 4``; never after the
    last one, where the commit sends what is left itself.

    Why the halves: the commit waits for the last part sent to be written, and the loop
    decides nothing meanwhile. Sent only every 200 of 400, the commit waited ~9.5 ms for
    the second half's rows (scratch timing of routed polls, ``route_batch`` alone); parts
    of 100 and 50 after it leave ~50 interactions' rows for the commit. A send costs the
    loop ~2.5 M instructions (callgrind: one a poll of 400 639.3 -> 645.5 K an
    interaction)."""
    if every <= 0:
        return frozenset()
    # whole parts of ``every`` while at least one more is left, then halves of the rest
    points = set(range(every, total - every + 1, every))
    last = max(points, default=0)
    smallest = max(every // 4, 1)
    while (total - last) // 2 >= smallest:
        last += (total - last) // 2
        points.add(last)
    return frozenset(points)
