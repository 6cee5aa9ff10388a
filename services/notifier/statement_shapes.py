"""The sizes of the sent-log's per-poll SQLite statements: a few fixed ones, so that each
is compiled once per connection and then taken from sqlite3's statement cache.

A poll's claim INSERT carries a row of parameters per notice and its ``IN (…)`` reads a
mark per key, so their SQL text changed with every poll's size. In the pipeline at
500/s no two polls hold the same number of POSTs, so most of these statements were
compiled anew: SQLite's compile is linear in the marks for ``?`` but quadratic for the
numbered ``?NNN`` of the INSERT (each numbered mark is looked up in a list of all the
names: ``sqlite3VListNumToName``, 1.2 % of the notifier's CPU in ``perf`` at 500/s). A
190-row claim compiled in ~6-10 ms and ran, compiled, in ~1.6 ms.

- An INSERT of ``n`` rows runs as chunks of :func:`insert_chunks` (up to
  :data:`EXACT_UP_TO` rows in one statement of that size, more as powers of two and a
  rest of at most that many): at most ~25 shapes of each INSERT.
- An ``IN (…)`` list of ``n`` values is padded to :func:`padded_size` marks by repeating
  its last value (a value twice in an ``IN`` list selects its rows once).
"""

from __future__ import annotations

#: Statements of up to this many rows or marks are made in their exact size (the
#: pipeline's small polls: 1-3 POSTs, each size recurs and stays cached).
EXACT_UP_TO = 16


def insert_chunks(rows: int, largest: int) -> list[int]:
    """The sizes of the INSERTs that write ``rows`` rows, in order, none over ``largest``
    (a power of two, or it is used as it is): full ``largest`` chunks, then the powers of
    two ≥ :data:`EXACT_UP_TO` of the rest, then what is left as one statement.

    >>> insert_chunks(3, 512), insert_chunks(190, 512), insert_chunks(1100, 512)
    ([3], [128, 32, 16, 14], [512, 512, 64, 12])
    """
    chunks = [largest] * (rows // largest)
    rest = rows % largest
    size = largest
    while rest > EXACT_UP_TO:
        size //= 2
        if size < EXACT_UP_TO:
            break
        if rest >= size:
            chunks.append(size)
            rest -= size
    if rest:
        chunks.append(rest)
    return chunks


def padded_size(values: int) -> int:
    """The marks of an ``IN (…)`` list of ``values`` values: as many up to
    :data:`EXACT_UP_TO`, else the next power of two.

    >>> padded_size(3), padded_size(17), padded_size(95), padded_size(2000)
    (3, 32, 128, 2048)
    """
    if values <= EXACT_UP_TO:
        return values
    return 1 << (values - 1).bit_length()
