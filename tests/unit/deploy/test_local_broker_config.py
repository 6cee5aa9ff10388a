"""The local development broker's server.properties bounds its disk, on every start.

A day of benchmarks once filled 36 GB with Kafka's defaults (1 GiB segments,
7 days, no size limit). The file is what the broker reads: these tests parse it
back. That the broker accepts and applies it is checked against a real broker in
tests/integration/common/test_local_broker.py.
"""

from __future__ import annotations

from pathlib import Path

from tools.local_broker import LocalKafka

MIB = 1024 * 1024


def _broker(home: Path) -> LocalKafka:
    return LocalKafka(home=home, cache=home / "cache", port=19092, controller_port=19093)


def _read_properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {key: value for key, value in pairs}


def test_written_properties_roll_small_segments_and_delete_by_age_and_size(tmp_path: Path) -> None:
    written = _read_properties(_broker(tmp_path)._write_config())

    assert written["log.segment.bytes"] == str(64 * MIB)
    assert written["log.roll.ms"] == str(3600 * 1000)
    assert written["log.retention.hours"] == "24"
    # Per partition, and it binds the project's topics, whose own retention.ms is a week.
    assert written["log.retention.bytes"] == str(512 * MIB)
    assert int(written["log.segment.bytes"]) < int(written["log.retention.bytes"])
    assert int(written["log.retention.check.interval.ms"]) < 5 * 60 * 1000  # Kafka's default
    assert "log.cleanup.policy" not in written  # "delete", Kafka's default, for every topic


def test_internal_topics_keep_their_single_node_settings(tmp_path: Path) -> None:
    written = _read_properties(_broker(tmp_path)._write_config())

    assert written["offsets.topic.replication.factor"] == "1"
    assert written["transaction.state.log.replication.factor"] == "1"
    assert written["transaction.state.log.min.isr"] == "1"
    # Their segment sizes stay Kafka's (offsets./transaction.state.log.segment.bytes).
    others = [key for key in written if key.endswith("segment.bytes")]
    assert others == ["log.segment.bytes"]


def test_an_existing_state_folder_gets_the_new_settings_at_the_next_start(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    broker.state_dir.mkdir(parents=True)
    old = broker.state_dir / "server.properties"
    old.write_text("node.id=1\nlog.dirs=/somewhere\n")  # as written before these limits

    config = broker._write_config()

    assert config == old
    written = _read_properties(config)
    assert written["log.retention.bytes"] == str(512 * MIB)
    assert written["log.dirs"] == str(broker.data_dir)
