"""Which routing tables the router analyzes (``planner_statistics``): never analyzed
(``reltuples`` -1) and holding enough pages; settled once every table has statistics."""

from __future__ import annotations

from services.router.store.planner_statistics import (
    MIN_PAGES,
    TableSize,
    settled,
    tables_to_analyze,
)


def test_only_tables_never_analyzed_with_enough_pages_are_analyzed() -> None:
    tables = [
        TableSize("conversations", -1.0, MIN_PAGES),
        TableSize("contacts", -1.0, MIN_PAGES - 1),  # not yet worth it
        TableSize("interactions", 0.0, 100),  # analyzed while empty: autovacuum's now
        TableSize("outbox", 2_000.0, 300),
        TableSize("attachments", -1.0, 0),
        TableSize("contact_identities", -1.0, 50),
    ]
    assert tables_to_analyze(tables) == ["contact_identities", "conversations"]
    assert tables_to_analyze(tables, min_pages=1) == [
        "contact_identities",
        "contacts",
        "conversations",
    ]


def test_settled_when_every_table_has_statistics() -> None:
    assert settled([TableSize("conversations", 10.0, 3), TableSize("attachments", 0.0, 0)])
    assert not settled([TableSize("conversations", -1.0, 1)])
    # a new database at the router's start: empty, its first rows to come
    assert not settled([TableSize("conversations", -1.0, 0)])
