"""The shape of the house (issue #19), checked on the source tree itself.

Services import libs, never another service nor the tooling; libs import neither;
libs/common holds only run-time code; every service has the same entry points and is
listed once, in tools/services.py. Imports are read with ``ast``, so an import inside a
function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tools.services import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
LIBS = ROOT / "libs"


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def offending_imports(folder: Path, allowed: Callable[[Path, str], bool]) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for module in imported_modules(path):
            if not allowed(path, module):
                found.append(f"{path.relative_to(ROOT)}: {module}")
    return found


def service_packages() -> list[str]:
    return sorted(p.parent.name for p in SERVICES.glob("*/__init__.py"))


def test_a_service_imports_no_other_service_and_no_tools():
    def allowed(path: Path, module: str) -> bool:
        own = path.relative_to(SERVICES).parts[0]
        top = module.split(".")
        if top[0] == "tools":
            return False
        return top[0] != "services" or len(top) == 1 or top[1] == own

    assert offending_imports(SERVICES, allowed) == []


def test_a_service_imports_no_benchmark():
    def allowed(path: Path, module: str) -> bool:
        return module.split(".")[0] != "bench"

    assert offending_imports(SERVICES, allowed) == []


def test_libs_import_neither_services_nor_tools():
    def allowed(path: Path, module: str) -> bool:
        return module.split(".")[0] not in {"services", "tools"}

    assert offending_imports(LIBS, allowed) == []


@pytest.mark.parametrize("tooling", ["cli", "demo", "testing"])
def test_libs_common_holds_no_tooling(tooling):
    assert not (LIBS / "common" / tooling).exists()


def test_the_registry_lists_every_service_once():
    assert sorted(SERVICE_NAMES) == service_packages()
    assert len(set(SERVICE_NAMES)) == len(SERVICE_NAMES)


@pytest.mark.parametrize("name", service_packages())
@pytest.mark.parametrize("entry", ["__main__.py", "bootstrap.py", "settings.py", "cli.py"])
def test_every_service_has_the_same_entry_points(name, entry):
    assert (SERVICES / name / entry).is_file()
