"""The notifier keeps its memory down as the router does (libs.common.memory): its
allocator settings read from NOTIFIER_*, and the upkeep run between the routing
consumer's polls."""

from __future__ import annotations

from types import SimpleNamespace

from libs.common.kafka.producer import EventProducer
from libs.common.memory import MemoryUpkeep, memory_upkeep
from libs.common.settings import KafkaSettings
from services.notifier.bootstrap import build_runner
from services.notifier.settings import NotifierSettings


def test_the_allocator_settings_are_the_notifiers_own(monkeypatch):
    monkeypatch.setenv("NOTIFIER_MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("NOTIFIER_MALLOC_MMAP_THRESHOLD_KB", "64")
    monkeypatch.setenv("NOTIFIER_MEMORY_UPKEEP_INTERVAL_S", "0")
    settings = NotifierSettings()
    assert (settings.malloc_arena_max, settings.malloc_mmap_threshold_kb) == (4, 64)
    assert memory_upkeep(settings) is None


def test_the_upkeep_runs_between_the_routing_consumers_polls():
    settings = NotifierSettings(kafka=KafkaSettings())
    producer = EventProducer(settings.kafka, client_id="notifier")
    handler = SimpleNamespace(handle_batch=None)  # kept by reference; nothing is consumed
    upkeep = memory_upkeep(settings)
    assert isinstance(upkeep, MemoryUpkeep)
    runner = build_runner(settings, handler, producer, upkeep=upkeep)  # type: ignore[arg-type]
    assert runner._between_polls == upkeep.run_if_due
    assert build_runner(settings, handler, producer)._between_polls is None  # type: ignore[arg-type]
