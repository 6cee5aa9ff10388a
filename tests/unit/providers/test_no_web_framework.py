"""Provider packages hold no web framework (architecture §9): the notifier imports them too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PROVIDERS = Path(__file__).resolve().parents[3] / "libs" / "providers"
FRAMEWORKS = ("fastapi", "starlette", "uvicorn")


def test_no_provider_module_imports_a_web_framework():
    offenders = []
    for path in PROVIDERS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FRAMEWORKS]
    assert offenders == []


def test_importing_the_registry_loads_no_web_framework():
    probe = (
        "import sys, libs.providers.registry, libs.providers.webchat.visitor;"
        f"print([m for m in {FRAMEWORKS!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
