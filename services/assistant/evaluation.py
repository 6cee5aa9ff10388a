"""Evaluation on a labelled question set, threshold calibration, cross-validation.

Pure over plain data: each question is decided as the first turn of a fresh
conversation by the same ``decide_turn`` the service runs; ``answered`` is
the article the assistant would send (None: handed off without one).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.assistant.domain.decide import ConversationState, Policy, Search, decide_turn
from services.assistant.retrieval.index import Retrieval

#: The issue's targets.
TARGET_CORRECT = 0.70
TARGET_MAX_WRONG_SHARE = 0.05
TARGET_OUT_OF_SCOPE_HANDOFF = 0.90


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    lang: str
    expect: str | None


class QuestionSet(BaseModel):
    version: int = Field(1, ge=1, le=1)
    questions: list[Question]


class Result(BaseModel):
    text: str
    lang: str
    expect: str | None
    answered: str | None
    confidence: float


@dataclass(frozen=True, slots=True)
class Tally:
    answerable: int = 0
    correct: int = 0
    wrong: int = 0
    handed_off: int = 0
    out_of_scope: int = 0
    out_of_scope_handed_off: int = 0

    @property
    def answers_given(self) -> int:
        return self.correct + self.wrong + (self.out_of_scope - self.out_of_scope_handed_off)

    @property
    def wrong_answers(self) -> int:
        return self.wrong + (self.out_of_scope - self.out_of_scope_handed_off)

    def rates(self) -> dict[str, float | None]:
        return {
            "correct_rate": _ratio(self.correct, self.answerable),
            "wrong_rate": _ratio(self.wrong_answers, self.answers_given),
            "out_of_scope_handoff_rate": _ratio(self.out_of_scope_handed_off, self.out_of_scope),
        }

    def meets_targets(self) -> bool:
        rates = self.rates()
        return (
            (rates["correct_rate"] or 0) >= TARGET_CORRECT
            and (rates["wrong_rate"] or 0) <= TARGET_MAX_WRONG_SHARE
            and (rates["out_of_scope_handoff_rate"] or 1) >= TARGET_OUT_OF_SCOPE_HANDOFF
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "answerable": self.answerable,
            "answered_correctly": self.correct,
            "answered_wrongly": self.wrong,
            "handed_off": self.handed_off,
            "out_of_scope": self.out_of_scope,
            "out_of_scope_handed_off": self.out_of_scope_handed_off,
            **self.rates(),
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def evaluate(
    questions: Sequence[Question],
    *,
    search: Search,
    handoff_articles: frozenset[str],
    policy: Policy,
) -> list[Result]:
    results = []
    for question in questions:
        decision = decide_turn(
            question.text,
            ConversationState(),
            search=search,
            handoff_articles=handoff_articles,
            policy=policy,
        )
        results.append(
            Result(
                text=question.text,
                lang=question.lang,
                expect=question.expect,
                answered=decision.article_id,
                confidence=round(decision.confidence, 4),
            )
        )
    return results


def tally(results: Sequence[Result]) -> Tally:
    counts = dict.fromkeys(
        ("answerable", "correct", "wrong", "handed_off", "out_of_scope", "oos_off"), 0
    )
    for r in results:
        if r.expect is None:
            counts["out_of_scope"] += 1
            counts["oos_off"] += r.answered is None
        else:
            counts["answerable"] += 1
            key = (
                "handed_off"
                if r.answered is None
                else "correct"
                if r.answered == r.expect
                else "wrong"
            )
            counts[key] += 1
    return Tally(
        counts["answerable"],
        counts["correct"],
        counts["wrong"],
        counts["handed_off"],
        counts["out_of_scope"],
        counts["oos_off"],
    )


def summary(results: Sequence[Result]) -> dict[str, Any]:
    languages = sorted({r.lang for r in results})
    return {
        "all": tally(results).as_dict(),
        "by_language": {
            lang: tally([r for r in results if r.lang == lang]).as_dict() for lang in languages
        },
        "targets": {
            "correct_rate_min": TARGET_CORRECT,
            "wrong_rate_max": TARGET_MAX_WRONG_SHARE,
            "out_of_scope_handoff_rate_min": TARGET_OUT_OF_SCOPE_HANDOFF,
        },
    }


def cached(search: Search) -> Search:
    """Retrieval does not depend on the threshold: search each text once."""
    memo: dict[str, Retrieval] = {}

    def lookup(text: str) -> Retrieval:
        if text not in memo:
            memo[text] = search(text)
        return memo[text]

    return lookup


class FirstTurns:
    """Each question decided once with and once without a confident retrieval.

    The threshold enters a first-turn decision only through ``confidence >=
    threshold``, so the result at any threshold is one of the two, chosen by the
    question's confidence: calibration and cross-validation try every threshold
    without deciding every question again.
    """

    def __init__(
        self,
        questions: Sequence[Question],
        *,
        search: Search,
        handoff_articles: frozenset[str],
        base: Policy,
    ) -> None:
        args: dict[str, Any] = {"search": search, "handoff_articles": handoff_articles}
        always = Policy(0.0, base.max_message_chars, base.max_answers)
        never = Policy(float("inf"), base.max_message_chars, base.max_answers)
        confident = evaluate(questions, policy=always, **args)
        unsure = evaluate(questions, policy=never, **args)
        self._sides = {
            id(q): (c, u, search(q.text).confidence)
            for q, c, u in zip(questions, confident, unsure, strict=True)
        }

    def results(self, questions: Sequence[Question], threshold: float) -> list[Result]:
        chosen = []
        for q in questions:
            confident, unsure, value = self._sides[id(q)]
            chosen.append(confident if value >= threshold else unsure)
        return chosen

    def confidences(self, questions: Sequence[Question]) -> set[float]:
        return {self._sides[id(q)][2] for q in questions}


def calibrate(
    questions: Sequence[Question],
    *,
    search: Search,
    handoff_articles: frozenset[str],
    base: Policy,
    turns: FirstTurns | None = None,
) -> float:
    """The threshold with the most correct answers among those meeting the wrong-answer
    and out-of-scope targets; if none meets them, the one with the fewest wrong answers.
    Candidates are the observed confidences (a threshold between two would over-fit)."""
    search = cached(search)
    turns = turns or FirstTurns(
        questions, search=search, handoff_articles=handoff_articles, base=base
    )
    scored: list[tuple[bool, float, float, float]] = []
    for threshold in sorted(turns.confidences(questions) | {0.0}):
        t = tally(turns.results(questions, threshold))
        rates = t.rates()
        wrong = rates["wrong_rate"] or 0.0
        oos = rates["out_of_scope_handoff_rate"]
        oos = 1.0 if oos is None else oos
        feasible = wrong <= TARGET_MAX_WRONG_SHARE and oos >= TARGET_OUT_OF_SCOPE_HANDOFF
        scored.append((feasible, t.correct, -wrong, -threshold))
    feasible = [s for s in scored if s[0]]
    best = (
        max(feasible, key=lambda s: (s[1], s[2]))
        if feasible
        else max(scored, key=lambda s: (s[2], s[1]))
    )
    return -best[3]


def stratified_folds(questions: Sequence[Question], k: int, seed: int) -> list[list[Question]]:
    """``k`` folds with the same mix of language and answerable/out-of-scope each,
    shuffled by ``seed`` (deterministic: the same seed gives the same folds)."""
    strata: dict[tuple[str, bool], list[Question]] = {}
    for q in questions:
        strata.setdefault((q.lang, q.expect is None), []).append(q)
    folds: list[list[Question]] = [[] for _ in range(k)]
    rng = random.Random(seed)
    offset = 0
    for key in sorted(strata):
        members = list(strata[key])
        rng.shuffle(members)
        for i, q in enumerate(members):
            folds[(i + offset) % k].append(q)
        offset += len(members)  # small strata do not all start in fold 0
    return folds


def cross_validate(
    questions: Sequence[Question],
    *,
    search: Search,
    handoff_articles: frozenset[str],
    base: Policy,
    k: int = 5,
    repeats: int = 20,
) -> dict[str, Any]:
    """Repeated stratified k-fold: calibrate the threshold on k-1 folds, decide the
    held-out fold with it; every question is measured ``repeats`` times, each time by
    a threshold that never saw it. The pooled figures (per language too) estimate what
    an unseen question set of the same kind would show."""
    search = cached(search)
    turns = FirstTurns(questions, search=search, handoff_articles=handoff_articles, base=base)
    pooled: list[Result] = []
    thresholds: list[float] = []
    for seed in range(repeats):
        folds = stratified_folds(questions, k, seed)
        for held_out, measure_on in enumerate(folds):
            calibrate_on = [q for i, fold in enumerate(folds) if i != held_out for q in fold]
            threshold = calibrate(
                calibrate_on,
                search=search,
                handoff_articles=handoff_articles,
                base=base,
                turns=turns,
            )
            thresholds.append(threshold)
            pooled.extend(turns.results(measure_on, threshold))
    ordered = sorted(thresholds)
    return {
        "method": f"{repeats} x stratified {k}-fold",
        "thresholds": {
            "min": ordered[0],
            "median": ordered[len(ordered) // 2],
            "max": ordered[-1],
        },
        "pooled": summary(pooled),
    }
