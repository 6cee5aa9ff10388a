"""The test run's broker is its own: never the developer's `make up` broker, gone afterwards."""

from __future__ import annotations

import pytest

from tools.local_broker import LocalKafka
from tools.testing.kafka import private_local_broker

pytestmark = [pytest.mark.integration]


def test_the_session_broker_is_not_the_developers(kafka_broker):
    if kafka_broker.origin != "local":
        pytest.skip(f"broker from {kafka_broker.origin}: chosen explicitly, not started by us")
    developers = LocalKafka()
    assert kafka_broker.local is not None
    assert kafka_broker.local.home != developers.home
    assert kafka_broker.local.state_dir != developers.state_dir


@pytest.mark.slow
def test_a_private_broker_is_stopped_and_its_data_removed_at_the_end():
    with private_local_broker() as broker:
        # `make up` runs on 9092; ours takes free ports and a temporary home.
        assert broker.running()
        assert broker.home != LocalKafka().home
        home, pid = broker.home, broker.pid()
        assert (broker.data_dir / "meta.properties").exists()
    assert pid is not None
    assert not broker.running()
    assert not home.exists()
