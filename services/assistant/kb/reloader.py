"""Keeps the served KB current: reload on SIGHUP and on file change.

A reload that fails validation is refused — the problems are logged and the
last good KB keeps serving. Loading and indexing run in a worker thread so
the loop keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import Executor
from pathlib import Path

import watchfiles

from services.assistant import metrics
from services.assistant.engine import Engine, build_engine
from services.assistant.kb.loader import KbLoad, Problem, load_kb
from services.assistant.retrieval.memory import release_free_memory
from services.assistant.retrieval.tokens import KoreanAnalyzer

log = logging.getLogger(__name__)


class KbInvalid(RuntimeError):
    def __init__(self, problems: tuple[Problem, ...]) -> None:
        super().__init__("; ".join(str(p) for p in problems[:10]))
        self.problems = problems


class KbReloader:
    def __init__(
        self,
        path: Path,
        *,
        base_synonyms: Path | None,
        analyzer: KoreanAnalyzer,
        builder: Executor | None = None,
    ) -> None:
        self._path = path
        # Kiwi's allocator keeps per-thread heaps: building every version on one thread
        # lets the freed model memory be reused and returned (25 MB less resident).
        self._builder = builder
        self._base = base_synonyms
        self._analyzer = analyzer
        self._engine: Engine | None = None
        self._lock = asyncio.Lock()

    @property
    def current(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the KB has not been loaded yet")
        return self._engine

    async def load_initial(self) -> Engine:
        result = await self.reload()
        if not result.ok:
            raise KbInvalid(result.problems)
        return self.current

    async def reload(self) -> KbLoad:
        async with self._lock:
            result = await asyncio.to_thread(load_kb, self._path, base_synonyms=self._base)
            if result.kb is None:
                metrics.KB_RELOADS.labels("refused").inc()
                for problem in result.problems:
                    log.error("KB %s refused: %s", self._path, problem)
                if self._engine is not None:
                    log.warning(
                        "still serving the last good KB (%d articles)",
                        len(self._engine.kb.articles),
                    )
                return result
            loop = asyncio.get_running_loop()
            self._engine = await loop.run_in_executor(
                self._builder, build_engine, result.kb, self._analyzer
            )
            release_free_memory()  # the replaced engine's pages, freed on this thread
            metrics.KB_RELOADS.labels("loaded").inc()
            metrics.KB_ARTICLES.set(len(result.kb.articles))
            log.info("KB %s loaded: %d articles", self._path, len(result.kb.articles))
            return result

    async def watch(self, stop: asyncio.Event, *, poll_s: float = 2.0) -> None:
        """Reload on SIGHUP or when a file under the KB path changes, until ``stop``."""
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, wake.set)
        watcher = asyncio.create_task(self._watch_files(stop, wake, poll_s))
        try:
            while not stop.is_set():
                waiter = asyncio.create_task(wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                if wake.is_set() and not stop.is_set():
                    wake.clear()
                    await self.reload()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGHUP)

    async def _watch_files(self, stop: asyncio.Event, wake: asyncio.Event, poll_s: float) -> None:
        target = self._path if self._path.is_dir() else self._path.parent
        async for _changes in watchfiles.awatch(
            target,
            stop_event=stop,
            debounce=200,
            step=50,
            rust_timeout=int(poll_s * 1000),
            yield_on_timeout=False,
            watch_filter=lambda _change, name: name.endswith((".yaml", ".yml")),
        ):
            wake.set()
