"""Run the services from one commit, not from a working tree others are editing.

Several engineers commit into the same working tree while this suite runs; a
service restarted mid-suite would otherwise load whatever half-written file is
there at that moment. ``git archive HEAD`` gives one consistent version, and
the report names it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from tools.testing.system import LocalSystem, ServiceProcess

ROOT = Path(__file__).resolve().parents[2]


def head_commit() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def export_head(target: Path) -> str:
    """Extract HEAD's services/ and libs/ into ``target``; returns the commit."""
    commit = head_commit()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "services", "libs"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return commit


@dataclass
class SnapshotSystem(LocalSystem):
    """:class:`LocalSystem` whose services run from ``code_dir``."""

    code_dir: Path | None = None

    def start(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> ServiceProcess:
        service = self.services[name]
        if service.running():
            return service
        self.home.mkdir(parents=True, exist_ok=True)
        code = str(self.code_dir or ROOT)
        with open(service.log_path, "ab") as log:
            service.proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": code, **service.env},
                cwd=code,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        service.starts += 1
        if wait:
            self.wait_ready(name, timeout=timeout)
        return service
