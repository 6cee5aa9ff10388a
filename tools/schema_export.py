"""JSON Schema of every event model, exported into a checked-in folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from libs.common.events.registry import exportable_models


def render_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema() for name, model in exportable_models().items()}


def render_files() -> dict[str, str]:
    return {
        f"{name}.schema.json": json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True)
        + "\n"
        for name, schema in render_schemas().items()
    }


def export_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    wanted = render_files()
    for stale in folder.glob("*.schema.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written
