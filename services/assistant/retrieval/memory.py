"""Give freed heap pages back to the OS after Kiwi builds its model.

Kiwi allocates through the mimalloc linked into ``_kiwipiepy``; building the
model (and rebuilding it when user words are added) frees hundreds of MB that
mimalloc keeps until a "purge delay" has passed and then purges only
lazily, and glibc keeps the top of its own heap. Both are returned here,
in the thread that built (mimalloc heaps are per thread). Measured by
``bench/assistant_kiwi.py``: 30-45 MB of resident memory, no effect on results.

mimalloc's own options (``MIMALLOC_PURGE_DELAY=0``, ``MIMALLOC_ARENA_EAGER_COMMIT=0``)
would save another ~9 MB but made each decision about three times slower (pages
purged on every free fault back in on the next message), so they are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _libraries() -> tuple[ctypes.CDLL | None, ctypes.CDLL | None]:
    mimalloc = libc = None
    try:
        import _kiwipiepy  # the extension module that carries mimalloc

        mimalloc = ctypes.CDLL(_kiwipiepy.__file__)
        mimalloc.mi_collect.argtypes = [ctypes.c_bool]
        mimalloc.mi_collect.restype = None
    except (ImportError, OSError, AttributeError) as exc:
        log.debug("mimalloc collection unavailable: %s", exc)
        mimalloc = None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and not hasattr(libc, "malloc_trim"):
            libc = None  # not glibc (musl, macOS): nothing to trim
    except OSError:
        libc = None
    return mimalloc, libc


def release_free_memory() -> None:
    """Return freed allocator pages to the OS (no-op where the calls do not exist)."""
    mimalloc, libc = _libraries()
    if mimalloc is not None:
        mimalloc.mi_collect(True)
    if libc is not None:
        libc.malloc_trim(0)
