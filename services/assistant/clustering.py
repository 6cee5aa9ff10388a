"""Questions the assistant could not answer, grouped by similarity (pure).

Greedy single-pass clustering on character n-gram TF-IDF vectors: a question
joins the first group whose founding question is similar enough, else founds
one. Small, order-stable, good enough to tell the team which article to write
next; groups are returned largest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.assistant.retrieval.index import NgramIndex


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    example: str
    questions: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.questions)


def group_questions(questions: Sequence[str], *, similarity: float = 0.3) -> list[QuestionGroup]:
    texts = [q for q in questions if q.strip()]
    if not texts:
        return []
    index = NgramIndex(texts)
    founders: list[int] = []
    members: dict[int, list[str]] = {}
    for i, text in enumerate(texts):
        scores = index.scores(text)
        home = next((f for f in founders if scores[f] >= similarity), None)
        if home is None:
            founders.append(i)
            members[i] = [text]
        else:
            members[home].append(text)
    groups = [QuestionGroup(texts[f], tuple(members[f])) for f in founders]
    return sorted(groups, key=lambda g: g.size, reverse=True)
