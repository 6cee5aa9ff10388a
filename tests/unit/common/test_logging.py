from __future__ import annotations

import json
import logging

from libs.common.logging import configure_logging, event_context


def test_json_lines_carry_service_and_event_id(capsys):
    configure_logging("router", level="INFO", fmt="json")
    try:
        log = logging.getLogger("omnidesk.test")
        with event_context("ev-42"):
            log.info("routed %s", "conv-1")
        log.info("outside")
        lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    finally:
        logging.getLogger().handlers.clear()
    assert lines[0]["service"] == "router"
    assert lines[0]["event_id"] == "ev-42"
    assert lines[0]["message"] == "routed conv-1"
    assert lines[0]["level"] == "INFO"
    assert "event_id" not in lines[1]
