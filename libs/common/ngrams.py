"""Character n-grams: what survives typos and Korean spacing variants (pure).

Shared by the assistant's retrieval and the grouping of unanswered questions, which
the router's report uses too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NGRAM_STRIP = re.compile(r"[^0-9a-z\uac00-\ud7a3]+")


def char_ngrams(text: str, sizes: Sequence[int] = (2, 3)) -> list[str]:
    """N-grams of the lower-cased text without spaces or punctuation: typos and
    spacing variants ("출금안됨" / "출금 안 됨") still share most of them."""
    squeezed = _NGRAM_STRIP.sub("", text.lower())
    grams: list[str] = []
    for size in sizes:
        grams.extend(squeezed[i : i + size] for i in range(len(squeezed) - size + 1))
    return grams
