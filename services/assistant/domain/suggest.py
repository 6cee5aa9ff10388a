"""Articles to list in an email acknowledgement (pure): never an answer, never a close.

Up to ``limit`` articles: the top one when the retrieval is confident, and
each runner-up whose score is close to the top's (the confidence speaks for
the top hit only).
"""

from __future__ import annotations

from services.assistant.retrieval.index import Retrieval

#: A runner-up is listed when it scores at least this share of the top hit.
RUNNER_UP_SHARE = 0.8


def suggested_articles(retrieval: Retrieval, *, threshold: float, limit: int = 2) -> list[str]:
    if retrieval.top is None or retrieval.confidence < threshold or limit < 1:
        return []
    top = retrieval.top.score
    chosen = [retrieval.top.article_id]
    for hit in retrieval.hits[1:]:
        if len(chosen) >= limit or hit.score < RUNNER_UP_SHARE * top:
            break
        chosen.append(hit.article_id)
    return chosen
