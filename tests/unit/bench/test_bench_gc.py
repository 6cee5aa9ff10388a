"""``bench.common.bench_gc_paused``: the bench's collector is off while it measures and
back on (with the phase's garbage collected) afterwards, whatever the phase raised."""

from __future__ import annotations

import gc
import weakref

import pytest

from bench.common import bench_gc_paused


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_collector_off_during_the_phase_and_its_cycles_freed_after():
    assert gc.isenabled()
    with bench_gc_paused():
        assert not gc.isenabled()
        node = _Node()
        survivor = weakref.ref(node)
        del node
        assert survivor() is not None  # garbage waits for the end of the phase
    assert gc.isenabled()
    assert survivor() is None


def test_collector_back_on_when_the_phase_fails():
    with pytest.raises(RuntimeError), bench_gc_paused():
        raise RuntimeError("phase failed")
    assert gc.isenabled()
