"""`omnidesk dev up|down` as the README describes them.

- `dev up` alone switches on the development integrations with public secrets;
- `dev down` stops `dev up`'s services first and waits for them; it leaves the
  local broker running unless `--broker` is given.
Real processes stand in for `dev up` and the broker (their pid files), nothing is mocked.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.cli import dev
from tools.local_broker import LocalKafka, is_alive

# Takes a moment to stop on SIGTERM, as `dev up` does while it stops its services.
SLOW_TO_STOP = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: (time.sleep(0.5), sys.exit(0)))\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OMNIDESK_HOME", str(tmp_path))
    return tmp_path


def _spawn(pid_file: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TO_STOP])
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(proc.pid))
    return proc


@pytest.fixture
def dev_up(home: Path) -> Iterator[subprocess.Popen]:
    proc = _spawn(home / "dev-up.pid")
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def broker(home: Path) -> Iterator[subprocess.Popen]:
    proc = _spawn(LocalKafka(home=home).pid_file)
    yield proc
    proc.kill()
    proc.wait()


def test_dev_up_switches_on_the_dev_integrations_only_in_its_own_processes():
    env = {p.name: p.env for p in dev.DEV_PROCESSES}
    assert env["chat_ingest"]["CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY"] == "true"
    assert env["phone_log"]["PHONE_LOG_DEV_SAMPLES"] == "true"


def test_down_stops_the_services_and_keeps_the_broker(dev_up, broker):
    result = CliRunner().invoke(dev.app, ["down"])
    assert result.exit_code == 0, result.output
    assert not is_alive(dev_up.pid), "dev down returned before `dev up` had stopped"
    assert is_alive(broker.pid)
    assert "keeps running" in result.output


def test_down_broker_stops_the_broker_after_the_services(dev_up, broker):
    result = CliRunner().invoke(dev.app, ["down", "--broker"])
    assert result.exit_code == 0, result.output
    assert not is_alive(dev_up.pid)
    assert not is_alive(broker.pid)
    assert result.output.index("services stopped") < result.output.index("kafka stopped")


def test_down_without_dev_up_says_so_and_leaves_the_broker(home, broker):
    result = CliRunner().invoke(dev.app, ["down"])
    assert result.exit_code == 0
    assert "no `dev up` is running" in result.output
    assert is_alive(broker.pid)
