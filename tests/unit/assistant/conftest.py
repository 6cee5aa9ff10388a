"""One Kiwi analyser per session: its model takes a second and ~300 MB to load."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.assistant.engine import Engine, build_engine
from services.assistant.kb.loader import load_kb
from services.assistant.retrieval.tokens import KoreanAnalyzer

SHARED_FAQ = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "faq"


@pytest.fixture(scope="session")
def analyzer() -> KoreanAnalyzer:
    return KoreanAnalyzer()


@pytest.fixture(scope="session")
def faq_engine(analyzer: KoreanAnalyzer) -> Engine:
    loaded = load_kb(SHARED_FAQ / "kb")
    assert loaded.kb is not None, loaded.problems
    return build_engine(loaded.kb, analyzer)
