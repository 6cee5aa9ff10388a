"""``public_holidays.country_holidays`` gives the library's own holidays while loading
only the named country's module (the package's ``__init__`` loads all ~250: 7 MB)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import holidays
import pytest

from services.router.domain.public_holidays import country_holidays


@pytest.mark.parametrize(("country", "subdiv"), [("KR", None), ("JP", None), ("US", "CA")])
def test_the_holidays_are_the_librarys(country: str, subdiv: str | None):
    ours = country_holidays(country, subdiv=subdiv)
    theirs = holidays.country_holidays(country, subdiv=subdiv)
    span = slice(date(2025, 1, 1), date(2028, 1, 1))  # a slice expands those years
    assert [(day, ours[day]) for day in ours[span]] == [(day, theirs[day]) for day in theirs[span]]
    assert len(ours[span]) > 10
    assert date(2026, 9, 25) in country_holidays("KR")  # Chuseok


def test_an_unknown_country_raises_as_the_library_does():
    with pytest.raises(NotImplementedError):
        country_holidays("XX")


def test_only_the_named_country_is_loaded():
    script = (
        "import sys\n"
        "from services.router.domain.public_holidays import country_holidays\n"
        "country_holidays('KR')\n"
        "print(' '.join(m for m in sys.modules if m.startswith('holidays.countries')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.split() == ["holidays.countries.south_korea"]
