"""Where the tests find a real Kafka broker.

Order (issue #2): ``KAFKA_BOOTSTRAP_SERVERS`` if set (an explicit choice of
cluster); else testcontainers if a Docker engine answers; else a broker of the
test run's own, from the project's Maven jars: its own ports and a temporary
data folder, stopped and removed when the run ends. The tests never use or stop
the developer's ``make up`` broker (``~/.local/share/omnidesk/kafka``, 9092).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.local_broker import LocalKafka
from tools.testing.system import free_port

log = logging.getLogger(__name__)


@dataclass
class BrokerUnderTest:
    bootstrap_servers: str
    origin: str  # "env", "testcontainers" or "local"
    local: LocalKafka | None = None

    @property
    def controllable(self) -> bool:
        """Tests that stop and restart the broker need one we started."""
        return self.local is not None


@contextmanager
def broker_for_tests() -> Iterator[BrokerUnderTest]:
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        yield BrokerUnderTest(env, "env")
        return
    container = _docker_kafka()
    if container is not None:
        with container:
            yield BrokerUnderTest(container.get_bootstrap_server(), "testcontainers")
        return
    with private_local_broker() as local:
        yield BrokerUnderTest(local.bootstrap_servers, "local", local)


@contextmanager
def private_local_broker() -> Iterator[LocalKafka]:
    """A broker of this test run only: free ports, a temporary home; gone afterwards."""
    home = Path(tempfile.mkdtemp(prefix="omnidesk-test-kafka-"))
    broker = LocalKafka(home=home, port=free_port(), controller_port=free_port())
    try:
        broker.start()
        log.info("test broker on %s (data in %s)", broker.bootstrap_servers, home)
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def _docker_kafka():  # type: ignore[no-untyped-def]
    try:
        import docker

        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:
            from testcontainers.kafka import KafkaContainer
    except ImportError:
        return None
    try:
        docker.from_env().ping()
        return KafkaContainer("apache/kafka:4.1.1").with_kraft()
    except Exception as exc:  # docker.errors.DockerException when no engine answers
        log.info("no Docker engine (%s); using a private local broker", type(exc).__name__)
        return None
