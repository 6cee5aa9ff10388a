"""What `make up` / `make test` need on the machine, checked before anything is installed.

Standard library only: the Makefile runs this file with the system's python3 before
the virtualenv exists (``python3 tools/cli/prereqs.py up|test``). For each
missing piece it prints the exact install command (Debian/Ubuntu package names).

- Python 3.11+ with ``venv`` (Debian ships it separately: python3-venv);
- Java 17+ and Maven for the local Kafka broker (not needed when
  ``KAFKA_BOOTSTRAP_SERVERS`` names a broker; Maven not once the jars are cached);
- Dovecot for the demo's mailbox (without it `omnidesk demo` has no email, and so no
  SLA breach or escalation); ``OMNIDESK_NO_DEMO_MAIL=1`` accepts that;
- for the tests also PostgreSQL's server binaries (the integration tests start their own).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

KAFKA_JARS_MARKER = "kafka_2.13-4.1.1/lib/.complete"  # written by LocalKafka.fetch


@dataclass(frozen=True)
class Missing:
    what: str
    why: str
    package: str  # Debian package that provides it


@dataclass(frozen=True)
class Machine:
    """What the checks look at; gathered by :func:`this_machine`, made up in tests."""

    python: tuple[int, int]
    has_venv: bool
    java_major: int | None  # None: no java on PATH
    has_maven: bool
    kafka_jars_cached: bool
    has_dovecot: bool
    has_postgres: bool
    env: Mapping[str, str]


def missing(machine: Machine, target: str = "up") -> list[Missing]:
    """What is missing for ``make up`` (target "up") or ``make test`` ("test")."""
    found: list[Missing] = []
    if machine.python < (3, 11):
        found.append(Missing("Python 3.11+", "omnidesk needs Python 3.11 or newer", "python3"))
    if not machine.has_venv:
        found.append(Missing("Python venv", "`make` creates .venv with it", "python3-venv"))
    if not machine.env.get("KAFKA_BOOTSTRAP_SERVERS"):
        if machine.java_major is None or machine.java_major < 17:
            found.append(
                Missing("Java 17+", "the local Kafka broker runs on it", "openjdk-17-jre-headless")
            )
        if not machine.has_maven and not machine.kafka_jars_cached:
            found.append(Missing("Maven", "fetches the Kafka broker's jars once", "maven"))
    if target == "test":
        if not machine.has_dovecot:
            found.append(Missing("Dovecot", "the IMAP integration tests", "dovecot-imapd"))
        if not machine.has_postgres:
            found.append(Missing("PostgreSQL", "the PostgreSQL integration tests", "postgresql"))
    elif not machine.has_dovecot and machine.env.get("OMNIDESK_NO_DEMO_MAIL") != "1":
        found.append(
            Missing(
                "Dovecot",
                "the demo's mailbox: its email, SLA breach and escalation "
                "(or set OMNIDESK_NO_DEMO_MAIL=1 to go without)",
                "dovecot-imapd",
            )
        )
    return found


def install_command(items: list[Missing], *, root: bool) -> str:
    packages = " ".join(dict.fromkeys(item.package for item in items))
    return f"{'' if root else 'sudo '}apt-get install -y {packages}"


def report(items: list[Missing], *, root: bool, target: str = "up") -> str:
    lines = [f"make {target}: missing prerequisites:"]
    lines += [f"  - {item.what}: {item.why}" for item in items]
    lines += ["install them with:", f"  {install_command(items, root=root)}"]
    return "\n".join(lines)


def java_major(version_output: str) -> int | None:
    """`java -version` prints e.g. `openjdk version "17.0.13"` or `"1.8.0_392"`."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def this_machine(
    run: Callable[[list[str]], str] | None = None, env: Mapping[str, str] = os.environ
) -> Machine:
    def run_java(cmd: list[str]) -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
        return done.stderr + done.stdout

    run = run or run_java
    java = shutil.which("java")
    cache = Path(env.get("OMNIDESK_CACHE_DIR") or Path.home() / ".cache/omnidesk")
    try:
        import ensurepip  # noqa: F401 -- Debian's python3 lacks it without python3-venv

        has_venv = True
    except ImportError:
        has_venv = False
    return Machine(
        python=sys.version_info[:2],
        has_venv=has_venv,
        java_major=java_major(run([java, "-version"])) if java else None,
        has_maven=shutil.which("mvn") is not None,
        kafka_jars_cached=(cache / KAFKA_JARS_MARKER).exists(),
        has_dovecot=any(
            Path(p).is_file() for p in (shutil.which("dovecot") or "", "/usr/sbin/dovecot") if p
        ),
        has_postgres=any(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        env=env,
    )


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "up"
    if target not in ("up", "test"):
        print("usage: prereqs.py [up|test]", file=sys.stderr)
        return 2
    items = missing(this_machine(), target)
    if not items:
        return 0
    print(report(items, root=os.geteuid() == 0, target=target), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
