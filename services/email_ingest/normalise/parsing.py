"""The standard library parser with ``policy.default``, made fast enough.

``policy.default`` parses a header every time it is read (the MIME walk reads
Content-Type many times per part) and ``HeaderRegistry`` builds a new class
on every lookup. Caching the header classes, and the parsed header objects by
(name, value) in a bounded LRU, keeps the exact semantics — header objects
are immutable — at several times the speed.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cache, lru_cache

#: Distinct (name, value) pairs kept parsed; common values repeat across mail.
HEADER_CACHE_SIZE = 4096


class _CachingHeaderRegistry(HeaderRegistry):
    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parsed = lru_cache(maxsize=HEADER_CACHE_SIZE)(self._parse)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        header_class = self._classes.get(key)
        if header_class is None:
            header_class = self._classes[key] = super().__getitem__(key)
        return header_class

    def __call__(self, name: str, value: str) -> BaseHeader:
        return self._parsed(name, value)

    def _parse(self, name: str, value: str) -> BaseHeader:
        return self[name](name, value)

    def clear(self) -> None:
        self._parsed.cache_clear()


@cache
def _registry() -> _CachingHeaderRegistry:
    return _CachingHeaderRegistry()


@cache
def _parser() -> BytesParser:
    return BytesParser(policy=policy.default.clone(header_factory=_registry()))


def parse_message(raw: bytes) -> EmailMessage:
    return _parser().parsebytes(raw)  # type: ignore[return-value]


def clear_header_cache() -> None:
    """For benchmarks that measure the cold path."""
    _registry().clear()
