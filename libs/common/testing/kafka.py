"""Where the tests find a real Kafka broker.

Order (issue #2): ``KAFKA_BOOTSTRAP_SERVERS`` if set; else testcontainers if a
Docker engine answers; else the project's own local broker from Maven jars.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from libs.common.kafka.local_broker import LocalKafka

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
    local = LocalKafka()
    local.start()
    yield BrokerUnderTest(local.bootstrap_servers, "local", local)


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
        log.info("no Docker engine (%s); using the local broker", type(exc).__name__)
        return None
