"""Questions the assistant could not answer, grouped by similarity (pure).

Each question becomes a vector over its analysed terms (the Kiwi/stemmer/
synonym terms retrieval uses), weighted by their IDF in the KB — words the KB
never uses weigh most, and they are what unanswered questions are about —
plus its character 3-grams at a small flat weight for typos. Greedy
single-pass clustering: a question joins the first group whose founding
question is similar enough (cosine), else founds one. Order-stable, and
enough to tell the team which article to write next; largest groups first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from libs.common.ngrams import char_ngrams

Terms = Callable[[str], list[str]]
#: Weight of one character 3-gram against a term of IDF 1.
NGRAM_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    example: str
    questions: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.questions)


def _vector(text: str, terms: Terms, idf: Mapping[str, float], unknown: float) -> dict[str, float]:
    vec: dict[str, float] = {}
    for term in set(terms(text)):
        vec[f"t:{term}"] = idf.get(term, unknown)
    for gram in set(char_ngrams(text, sizes=(3,))):
        vec[f"g:{gram}"] = NGRAM_WEIGHT
    norm = math.sqrt(sum(x * x for x in vec.values())) or 1.0
    return {f: x / norm for f, x in vec.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(f, 0.0) for f, v in a.items())


def group_questions(
    questions: Sequence[str],
    *,
    terms: Terms,
    idf: Mapping[str, float],
    similarity: float = 0.4,
) -> list[QuestionGroup]:
    """``idf``: term → inverse document frequency in the KB (unknown terms weigh most)."""
    texts = [q for q in questions if q.strip()]
    unknown = max(idf.values(), default=1.0) + 0.5
    vectors = [_vector(text, terms, idf, unknown) for text in texts]
    founders: list[int] = []
    members: dict[int, list[str]] = {}
    for i, text in enumerate(texts):
        home = next((f for f in founders if _cosine(vectors[i], vectors[f]) >= similarity), None)
        if home is None:
            founders.append(i)
            members[i] = [text]
        else:
            members[home].append(text)
    groups = [QuestionGroup(texts[f], tuple(members[f])) for f in founders]
    return sorted(groups, key=lambda g: g.size, reverse=True)
