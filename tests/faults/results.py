"""The suite's results file: one row per fault, rewritten after each scenario."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(
    os.environ.get("OMNIDESK_FAULTS_RESULTS", ROOT / "bench" / "results" / "faults.json")
)


class ResultsFile:
    def __init__(self, path: Path = RESULTS) -> None:
        self.path = path
        self.started = time.time()
        self.data: dict = {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "rows": [],
        }

    def add(self, row: dict) -> None:
        self.data["rows"].append(row)
        self.data["suite_runtime_s"] = round(time.time() - self.started, 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")
        temp.replace(self.path)

    def dump_observation(self, seen: object, fault: str) -> None:
        """Everything observed so far, beside the results, for a post-mortem."""
        path = self.path.with_name(self.path.stem + "-observed.json")
        data = {"after": fault, **dataclasses.asdict(seen)}  # type: ignore[call-overload]
        path.write_text(json.dumps(data, ensure_ascii=False))
