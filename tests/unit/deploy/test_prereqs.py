"""`make up` / `make test` name what the machine lacks and the exact command to install it."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from tools.cli.prereqs import (
    Machine,
    install_command,
    java_major,
    missing,
    report,
    this_machine,
)

READY = Machine(
    python=(3, 11),
    has_venv=True,
    java_major=17,
    has_maven=True,
    kafka_jars_cached=False,
    has_dovecot=True,
    has_postgres=True,
    env={},
)


def lacking(**changes) -> Machine:
    return dataclasses.replace(READY, **changes)


def packages(machine: Machine, target: str = "up") -> list[str]:
    return [item.package for item in missing(machine, target)]


def test_a_ready_machine_lacks_nothing():
    assert missing(READY) == []
    assert missing(READY, "test") == []


def test_debians_python_without_venv_is_named():
    assert packages(lacking(has_venv=False)) == ["python3-venv"]


@pytest.mark.parametrize("java", [None, 11])
def test_java_17_is_needed_for_the_local_broker(java):
    assert packages(lacking(java_major=java)) == ["openjdk-17-jre-headless"]


def test_maven_is_needed_only_until_the_jars_are_cached():
    assert packages(lacking(has_maven=False)) == ["maven"]
    assert packages(lacking(has_maven=False, kafka_jars_cached=True)) == []


def test_an_external_broker_needs_neither_java_nor_maven():
    machine = lacking(java_major=None, has_maven=False, env={"KAFKA_BOOTSTRAP_SERVERS": "k:9092"})
    assert packages(machine) == []


def test_dovecot_is_asked_for_the_demo_unless_declined():
    assert packages(lacking(has_dovecot=False)) == ["dovecot-imapd"]
    assert packages(lacking(has_dovecot=False, env={"OMNIDESK_NO_DEMO_MAIL": "1"})) == []


def test_the_tests_also_need_postgresql_and_dovecot():
    assert packages(lacking(has_postgres=False)) == []
    assert packages(lacking(has_postgres=False, has_dovecot=False), "test") == [
        "dovecot-imapd",
        "postgresql",
    ]


def test_one_exact_command_installs_everything_missing():
    items = missing(lacking(has_venv=False, java_major=None, has_maven=False, has_dovecot=False))
    assert install_command(items, root=True) == (
        "apt-get install -y python3-venv openjdk-17-jre-headless maven dovecot-imapd"
    )
    assert install_command(items, root=False).startswith("sudo apt-get install -y ")
    text = report(items, root=True)
    assert "Java 17+" in text and "Dovecot" in text


@pytest.mark.parametrize(
    "output,major",
    [
        ('openjdk version "17.0.13" 2024-10-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no version here", None),
    ],
)
def test_java_major_reads_java_dash_version(output, major):
    assert java_major(output) == major


def test_this_machine_reads_the_running_python():
    machine = this_machine(run=lambda cmd: 'openjdk version "17.0.1"', env={})
    assert machine.python == sys.version_info[:2]
