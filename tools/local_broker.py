"""A real single-node Apache Kafka (KRaft) assembled from Maven Central jars.

For machines without Docker: ``omnidesk kafka start`` fetches a pinned Kafka
with Maven into a cache folder (once), formats KRaft storage (once), starts
one broker+controller on loopback and waits until it serves metadata. Data
survives restarts. Facts behind the steps: ``../shared/LOCAL_KAFKA.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from libs.common.settings import default_home

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.1"
SCALA_VERSION = "2.13"
# Kafka 4.0/4.1 log through slf4j 1.7; the binding is not in any published POM.
LOG4J_SLF4J_VERSION = "2.24.3"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>omnidesk.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>{kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""

#: ``monitorInterval``: log4j2 re-reads this file when it changed (checked at most every 5 s),
#: so :meth:`LocalKafka.log_requests` can turn the request log on and off in a running broker.
_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" monitorInterval="5">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="stdout"/></Root>
    <Logger name="kafka.request.logger" level="{request_level}"/>
    <Logger name="org.apache.kafka.controller" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
  </Loggers>
</Configuration>
"""


# A developer's broker, not a cluster: what it keeps is bounded, so days of
# `omnidesk up` and benchmark runs cannot fill the disk (one machine reached 36 GB
# with Kafka's defaults: 1 GiB segments, 7 days, no size limit). Names, meanings
# and defaults from Kafka's broker configuration reference (Kafka 4.1, "Broker
# Configs"; generated from org.apache.kafka.server.config.ServerLogConfigs):
# - log.retention.bytes, "the maximum size of the log before deleting it", is per
#   partition and, unlike the time limit, also binds the project's own topics:
#   `omnidesk topics create` gives them retention.ms (KAFKA_TOPIC_RETENTION_MS,
#   7 days) as a topic config, which overrides log.retention.hours. 512 MiB is
#   about 4x what the largest benchmark writes to one partition (backlog of
#   100,000: 260,000 routing events of ~1.45 KB over 3 partitions, ~126 MB each),
#   so no run loses records it has not read yet.
# - log.retention.hours (default 168) for topics without their own retention.ms:
#   those made with a bare NewTopic (bench.notify_throughput, bench.relay_cost)
#   or by hand.
# - log.segment.bytes (default 1 GiB), "the maximum size of a single log file":
#   retention deletes whole closed segments, so a partition keeps at most
#   retention.bytes plus one segment.
# - log.roll.ms (default: log.roll.hours, 168): a segment still being appended to
#   slowly is closed within an hour and can then expire.
# - log.retention.check.interval.ms (default 300000), how often the broker looks
#   for segments to delete; files go log.segment.delete.delay.ms (60 s) later.
# The compacted internal topics (__consumer_offsets, the transaction state) are
# not deleted by these limits: compaction keeps their latest values, with their
# own offsets./transaction.state.log.segment.bytes (100 MiB). Production brokers
# keep their operators' settings (README.md, "Deploy with docker compose").
DEV_RETENTION: dict[str, str] = {
    "log.retention.hours": "24",
    "log.retention.bytes": str(512 * 1024 * 1024),
    "log.segment.bytes": str(64 * 1024 * 1024),
    "log.roll.ms": str(3600 * 1000),
    "log.retention.check.interval.ms": str(60 * 1000),
}


class LocalKafkaError(RuntimeError):
    pass


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def default_cache() -> Path:
    return Path(os.environ.get("OMNIDESK_CACHE_DIR", Path.home() / ".cache/omnidesk"))


@dataclass
class LocalKafka:
    home: Path = field(default_factory=default_home)
    cache: Path = field(default_factory=default_cache)
    port: int = field(default_factory=lambda: _env_port("OMNIDESK_KAFKA_PORT", 9092))
    controller_port: int = field(
        default_factory=lambda: _env_port("OMNIDESK_KAFKA_CONTROLLER_PORT", 9093)
    )
    heap: str = "768m"
    version: str = KAFKA_VERSION

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def lib_dir(self) -> Path:
        return self.cache / f"kafka_{SCALA_VERSION}-{self.version}" / "lib"

    @property
    def state_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "broker.pid"

    # -- fetch -------------------------------------------------------------

    def fetch(self) -> Path:
        """Collect the broker's jars into the cache unless they are there."""
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return self.lib_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalKafkaError("Maven (mvn) is needed to fetch Kafka; install it (apt maven)")
        work = self.lib_dir.parent
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(
            _POM.format(kafka=self.version, scala=SCALA_VERSION, log4j=LOG4J_SLF4J_VERSION)
        )
        log.info("fetching Kafka %s jars with Maven into %s", self.version, self.lib_dir)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.lib_dir}",
            ],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalKafkaError(f"mvn failed ({result.returncode}):\n{result.stdout[-3000:]}")
        marker.write_text(self.version)
        return self.lib_dir

    # -- configure and format ------------------------------------------------

    def server_properties(self) -> dict[str, str]:
        """The broker's server.properties: one loopback node, and a disk use fit for a laptop."""
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "message.max.bytes": str(8 * 1024 * 1024),
            **DEV_RETENTION,
        }

    def _write_config(self) -> Path:
        """Write server.properties on every start, so an existing data folder gets new settings."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = self.state_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.server_properties().items()))
        self._write_log4j2(request_level="WARN")
        return config

    def _write_log4j2(self, *, request_level: str) -> None:
        (self.state_dir / "log4j2.xml").write_text(_LOG4J2.format(request_level=request_level))

    def log_requests(self, on: bool) -> None:
        """Turn the broker's request log on (one line per completed request: client id, API,
        times) or off; a running broker follows within ~5 s (``monitorInterval``). For
        counting what clients ask (``bench.broker_idle_cpu --requests``): the lines are
        long, keep the window short."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_log4j2(request_level="DEBUG" if on else "WARN")

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise LocalKafkaError("Java 17+ is needed for the local Kafka broker (apt openjdk-17)")
        return java

    def _classpath(self) -> str:
        return str(self.lib_dir / "*")

    def format_storage(self, config: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        java, cp = self._java(), self._classpath()
        cluster_id = (
            subprocess.run(
                [java, "-cp", cp, "kafka.tools.StorageTool", "random-uuid"],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = subprocess.run(
            [
                java,
                "-cp",
                cp,
                f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.xml'}",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(config),
                "--standalone",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting KRaft storage failed:\n{result.stdout}{result.stderr}"
            )
        log.info("formatted KRaft storage in %s (cluster %s)", self.data_dir, cluster_id)

    # -- lifecycle -----------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid if is_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, *, timeout: float = 90.0) -> None:
        """Start the broker (or find it running) and wait until it serves metadata."""
        if self.running():
            self.wait_ready(timeout=timeout)
            return
        if _port_open(self.port):
            raise LocalKafkaError(
                f"port {self.port} is in use by another process; set another port or "
                "KAFKA_BOOTSTRAP_SERVERS to use that broker"
            )
        self.fetch()
        config = self._write_config()
        self.format_storage(config)
        cmd = [
            self._java(),
            f"-Xmx{self.heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.state_dir / 'logs'}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(config),
        ]
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI; Ctrl-C in a shell does not reach it
            )
        self.pid_file.write_text(str(proc.pid))
        log.info("started Kafka %s (pid %d) on %s", self.version, proc.pid, self.bootstrap_servers)
        try:
            self.wait_ready(timeout=timeout, proc=proc)
        except LocalKafkaError:
            self.stop()
            raise

    def wait_ready(self, *, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise LocalKafkaError(
                    f"broker exited with {proc.returncode}; last log lines:\n{self.tail_log()}"
                )
            if _port_open(self.port) and _serves_metadata(self.bootstrap_servers):
                return
            time.sleep(0.5)
        raise LocalKafkaError(f"broker not ready after {timeout:.0f}s:\n{self.tail_log()}")

    def stop(self, *, timeout: float = 60.0) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and is_alive(pid):
            time.sleep(0.2)
        if is_alive(pid):
            log.warning("broker %d did not stop in %.0fs; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        return True

    def tail_log(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no broker log yet)"


def is_alive(pid: int) -> bool:
    """Alive and not a zombie (a child we started and never reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _serves_metadata(bootstrap: str) -> bool:
    """Ask the broker for metadata with aiokafka, on a private loop and thread."""
    result: list[bool] = []

    def probe() -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        async def ask() -> bool:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
            try:
                await asyncio.wait_for(admin.start(), 5)
                cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
                return bool(cluster.get("brokers"))
            except Exception:
                return False
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()

        result.append(asyncio.run(ask()))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(15)
    return bool(result and result[0])
