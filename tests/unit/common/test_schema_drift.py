"""The checked-in JSON Schemas must match the models (run `omnidesk schema export`)."""

from __future__ import annotations

from pathlib import Path

from tools.schema_export import render_files

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def test_checked_in_schemas_match_models():
    wanted = render_files()
    present = {p.name: p.read_text() for p in SCHEMAS.glob("*.schema.json")}
    assert sorted(present) == sorted(wanted), "schema files differ: run `omnidesk schema export`"
    drifted = [name for name, text in wanted.items() if present[name] != text]
    assert not drifted, f"schemas drifted from models: {drifted}; run `omnidesk schema export`"
