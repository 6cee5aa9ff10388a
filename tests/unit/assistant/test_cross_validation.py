"""Calibration and repeated stratified k-fold cross-validation on plain data."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
import yaml

from services.assistant.domain.decide import Policy
from services.assistant.evaluation import (
    FirstTurns,
    QuestionSet,
    cached,
    cross_validate,
    evaluate,
    stratified_folds,
)
from services.assistant.retrieval.index import Retriever, Weights
from services.assistant.retrieval.memory import release_free_memory

from .conftest import SHARED_FAQ


def _questions() -> list:
    raw = yaml.safe_load((SHARED_FAQ / "dev-questions.yaml").read_text("utf-8"))
    return QuestionSet.model_validate(raw).questions


def test_folds_partition_the_set_and_keep_its_mix():
    questions = _questions()
    folds = stratified_folds(questions, 5, seed=3)
    assert sorted(id(q) for f in folds for q in f) == sorted(id(q) for q in questions)
    whole = Counter((q.lang, q.expect is None) for q in questions)
    for fold in folds:
        mix = Counter((q.lang, q.expect is None) for q in fold)
        for key, count in whole.items():
            assert abs(mix[key] - count / 5) <= 1
    assert [len(f) for f in folds] == [len(f) for f in stratified_folds(questions, 5, seed=3)]
    assert folds != stratified_folds(questions, 5, seed=4)


def test_first_turns_give_what_deciding_again_gives(faq_engine):
    questions = _questions()[:40]
    search = cached(faq_engine.search)
    args = {"search": search, "handoff_articles": faq_engine.handoff_articles}
    turns = FirstTurns(questions, base=Policy(0.2), **args)
    for threshold in (0.0, 0.1314, 0.25, 1.0):
        again = evaluate(questions, policy=Policy(threshold), **args)
        assert turns.results(questions, threshold) == again


def test_cross_validation_measures_every_question_once_per_repeat(faq_engine):
    questions = _questions()
    search = cached(faq_engine.search)
    report = cross_validate(
        questions,
        search=search,
        handoff_articles=faq_engine.handoff_articles,
        base=Policy(0.2),
        k=5,
        repeats=2,
    )
    pooled = report["pooled"]["all"]
    assert pooled["answerable"] + pooled["out_of_scope"] == 2 * len(questions)
    assert set(report["pooled"]["by_language"]) == {"ko", "en"}
    spread = report["thresholds"]
    assert 0 <= spread["min"] <= spread["median"] <= spread["max"] <= 1


def test_rankers_disagreeing_lowers_the_confidence(faq_engine):
    retriever = faq_engine.retriever
    plain = Retriever(faq_engine.kb, retriever.tokenizer, replace(Weights(), disagreement=1.0))
    texts = [q.text for q in _questions()]
    results = {text: retriever.search(text) for text in texts}
    disagreeing = [t for t, r in results.items() if not r.rankers_agree]
    agreeing = [t for t, r in results.items() if r.rankers_agree]
    assert disagreeing and agreeing
    for text in disagreeing[:5]:
        assert results[text].confidence == pytest.approx(0.6 * plain.search(text).confidence)
    for text in agreeing[:5]:
        assert results[text].confidence == pytest.approx(plain.search(text).confidence)


def test_releasing_memory_is_safe_to_call_any_time():
    release_free_memory()
    release_free_memory()
