"""A bad KB edit is refused and the last good KB keeps serving (real files, real watcher)."""

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from services.assistant.kb.reloader import KbReloader

SAMPLE = Path("services/assistant/sample_kb/desk.yaml").read_text(encoding="utf-8")


async def wait_for(check, within_s=20.0):
    async with asyncio.timeout(within_s):  # a guard against hanging, not a timing assertion
        while True:
            if check():
                return
            await asyncio.sleep(0.05)


async def test_bad_edits_are_refused_and_good_ones_picked_up(tmp_path, analyzer):
    kb_file = tmp_path / "desk.yaml"
    kb_file.write_text(SAMPLE, encoding="utf-8")
    reloader = KbReloader(tmp_path, base_synonyms=None, analyzer=analyzer)
    good = await reloader.load_initial()
    assert len(good.kb.articles) == 4

    # a duplicate id: refused, the same engine keeps serving
    (tmp_path / "dup.yaml").write_text(SAMPLE, encoding="utf-8")
    result = await reloader.reload()
    assert not result.ok and "duplicate article id" in result.problems[0].message
    assert reloader.current is good

    # fixed, then changed on disk: the watcher loads it without a signal
    (tmp_path / "dup.yaml").unlink()
    stop = asyncio.Event()
    watcher = asyncio.create_task(reloader.watch(stop, poll_s=0.2))
    await asyncio.sleep(0.3)
    kb_file.write_text(SAMPLE.replace("id: deposit-fee", "id: deposit-fees"), encoding="utf-8")
    await wait_for(lambda: "deposit-fees" in reloader.current.articles)

    # SIGHUP reloads too (a missing answer is refused, the last good stays)
    kb_file.write_text(SAMPLE.replace("answer: |", "answr: |", 1), encoding="utf-8")
    before = reloader.current
    os.kill(os.getpid(), signal.SIGHUP)
    await asyncio.sleep(1.0)
    assert reloader.current is before
    stop.set()
    await watcher


class CountingExecutor(ThreadPoolExecutor):
    """A real one-thread executor that counts the work handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="kb-build-test")
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def test_every_kb_version_is_built_on_the_given_executor(tmp_path, analyzer):
    """Kiwi's allocator keeps per-thread heaps: one builder thread lets freed model
    memory be reused (services/assistant/README.md, Memory)."""
    (tmp_path / "desk.yaml").write_text(SAMPLE, encoding="utf-8")
    builder = CountingExecutor()
    reloader = KbReloader(tmp_path, base_synonyms=None, analyzer=analyzer, builder=builder)
    try:
        first = await reloader.load_initial()
        await reloader.reload()
    finally:
        builder.shutdown()
    assert builder.submitted == 2
    assert reloader.current is not first and len(reloader.current.kb.articles) == 4
