"""Give freed heap pages back to the OS after Kiwi builds its model.

Kiwi allocates through the mimalloc linked into ``_kiwipiepy``; building the
model (and rebuilding it when user words are added) frees hundreds of MB that
mimalloc keeps until a "purge delay" has passed and then purges only
lazily, and glibc keeps the top of its own heap. Both are returned here,
in the thread that built (mimalloc heaps are per thread). Measured by
``bench/assistant_kiwi.py``: 35-45 MB of resident memory, no effect on results.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
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


#: mimalloc reads these when ``_kiwipiepy`` is loaded: purge freed pages at once
#: instead of after a delay, and commit arena memory on demand (bench/assistant_kiwi.py:
#: 10-15 MB less resident, 10 MB lower peak). An operator's own value wins.
MIMALLOC_ENVIRONMENT = {"MIMALLOC_PURGE_DELAY": "0", "MIMALLOC_ARENA_EAGER_COMMIT": "0"}


def tune_allocator() -> bool:
    """Set Kiwi's allocator options; only effective before kiwipiepy is imported (the
    service's entry point calls it first). False when it came too late."""
    if "_kiwipiepy" in sys.modules:
        log.warning("kiwipiepy already loaded: mimalloc options not applied")
        return False
    for name, value in MIMALLOC_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    return True


def release_free_memory() -> None:
    """Return freed allocator pages to the OS (no-op where the calls do not exist)."""
    mimalloc, libc = _libraries()
    if mimalloc is not None:
        mimalloc.mi_collect(True)
    if libc is not None:
        libc.malloc_trim(0)
