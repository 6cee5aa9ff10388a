"""A country's public holidays from the ``holidays`` library, loading that country only.

``holidays.country_holidays("KR")`` imports ``holidays.countries``, whose package
``__init__`` imports every one of the ~250 country modules: 7.3 MB of the router's
RSS (issue #16: ≤ 150 MB) for the one or two countries a desk's calendars name. The
library's own registry (``holidays.registry.COUNTRIES``) says which module defines a
country code; that module alone is loaded here, under its usual name, so a later
``import holidays.countries`` finds it and the holidays are the library's own
(``tests/unit/router/test_public_holidays.py`` holds them equal). A code the registry
does not list (or a library whose layout changed) goes to ``holidays.country_holidays``,
with its errors.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import holidays
from holidays.registry import COUNTRIES


def country_holidays(country: str, subdiv: str | None = None) -> holidays.HolidayBase:
    """``holidays.country_holidays(country, subdiv=subdiv)``, without the other countries."""
    for module_name, (class_name, *codes) in COUNTRIES.items():
        if country in codes:
            module = _country_module(module_name)
            if module is not None:
                return getattr(module, class_name)(subdiv=subdiv)  # type: ignore[no-any-return]
            break
    return holidays.country_holidays(country, subdiv=subdiv)


def _country_module(module_name: str) -> ModuleType | None:
    name = f"holidays.countries.{module_name}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    path = Path(holidays.__file__).parent / "countries" / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.is_file():
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
