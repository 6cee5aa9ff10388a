"""The idle fetch mode's rule and what it does to a fetcher (no broker)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from aiokafka.consumer.fetcher import Fetcher

from libs.common.kafka.fetch_mode import IDLE_FETCH, FetchLimits, IdleFetchMode, limits_after_poll

USUAL = FetchLimits(min_bytes=65_536, max_wait_ms=100)


def _fetcher() -> SimpleNamespace:
    return SimpleNamespace(_fetch_min_bytes=USUAL.min_bytes, _fetch_max_wait_ms=USUAL.max_wait_ms)


def test_records_keep_the_usual_limits_and_an_empty_poll_asks_for_the_first_byte():
    assert limits_after_poll(USUAL, found_records=True) == USUAL
    assert limits_after_poll(USUAL, found_records=False) == FetchLimits(1, 500)
    assert IDLE_FETCH.max_wait_ms <= 500  # the runner's poll timeout: idle polls still end


def test_the_fetcher_follows_the_polls():
    fetcher = _fetcher()
    mode = IdleFetchMode(fetcher, USUAL, name="g")
    mode.after_poll(found_records=True)
    assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (65_536, 100)
    mode.after_poll(found_records=False)
    assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (1, 500)
    assert mode.current == IDLE_FETCH
    mode.after_poll(found_records=False)
    assert mode.current == IDLE_FETCH
    mode.after_poll(found_records=True)
    assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (65_536, 100)
    assert mode.current == USUAL


def test_a_fetcher_without_the_attributes_turns_the_mode_off(caplog):
    with caplog.at_level(logging.WARNING):
        mode = IdleFetchMode(object(), USUAL, name="router-group")
    assert "router-group" in caplog.text and "idle fetch mode is off" in caplog.text
    mode.after_poll(found_records=False)  # nothing to set, nothing raised
    assert mode.current == USUAL
    IdleFetchMode(None, USUAL, name="g").after_poll(found_records=False)


def test_aiokafkas_fetcher_builds_its_requests_from_the_attributes_the_mode_sets():
    """Pins the private attributes the mode relies on (aiokafka 0.14's Fetcher): its
    constructor stores them and its request builder reads them."""
    import inspect

    builder = inspect.getsource(Fetcher._get_actions_per_node)
    assert "self._fetch_max_wait_ms" in builder and "self._fetch_min_bytes" in builder
    init = inspect.getsource(Fetcher.__init__)
    assert "self._fetch_min_bytes = fetch_min_bytes" in init
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in init
