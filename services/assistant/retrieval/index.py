"""Article retrieval: BM25 over terms plus character n-grams, and a confidence.

Each article is indexed once per language it has. Question variants and the
title form the main document (they are what customers type); the answer is
a second, weaker document (it carries the vocabulary of the solution).
Character 2-3-grams of the spacing-stripped text catch typos and spacing
variants that morphological analysis splits differently. An article's score
is its best language version, so a mixed ko/en message can match either.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from libs.common.ngrams import char_ngrams
from services.assistant.kb.model import KnowledgeBase
from services.assistant.retrieval.tokens import Tokenizer


@dataclass(frozen=True, slots=True)
class Weights:
    """How the signals combine; fixed by design, not fitted per question."""

    questions: float = 0.55
    answer: float = 0.15
    ngrams: float = 0.30
    #: BM25 of the question document that counts as a full match (score → 1).
    bm25_scale: float = 8.0
    #: Confidence = top score, lowered when the runner-up is nearly as good.
    margin_weight: float = 0.5
    #: Confidence factor when the word ranker (BM25 over questions) and the character
    #: n-gram ranker name different best articles: two views of the text disagreeing
    #: is the commonest sign of a wrong answer (README, "How it decides").
    disagreement: float = 0.6


@dataclass(frozen=True, slots=True)
class Hit:
    article_id: str
    language: str
    score: float


@dataclass(frozen=True, slots=True)
class Retrieval:
    hits: tuple[Hit, ...]
    confidence: float
    terms: tuple[str, ...]
    #: The word and the character n-gram rankers chose the same best article.
    rankers_agree: bool = True

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


@dataclass(frozen=True, slots=True)
class _Doc:
    article_id: str
    language: str


class NgramIndex:
    """TF-IDF cosine over character n-grams."""

    def __init__(self, texts: list[str]) -> None:
        counts = [Counter(char_ngrams(text)) for text in texts]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        n = len(texts)
        self._idf = {g: math.log((n + 1) / (d + 0.5)) for g, d in df.items()}
        self._vectors = [self._weigh(c) for c in counts]

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        vec = {g: (1 + math.log(c)) * self._idf.get(g, 0.0) for g, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {g: v / norm for g, v in vec.items() if v}

    def scores(self, text: str) -> np.ndarray:
        query = self._weigh(Counter(char_ngrams(text)))
        return np.array(
            [sum(w * doc.get(g, 0.0) for g, w in query.items()) for doc in self._vectors],
            dtype=np.float32,
        )


class Retriever:
    def __init__(self, kb: KnowledgeBase, tokenizer: Tokenizer, weights: Weights | None = None):
        self.kb = kb
        self.tokenizer = tokenizer
        self.weights = weights or Weights()
        self._docs: list[_Doc] = []
        question_docs: list[list[str]] = []
        answer_docs: list[list[str]] = []
        ngram_docs: list[str] = []
        for article in kb.articles:
            for language, text in article.texts().items():
                self._docs.append(_Doc(article.id, language))
                title_terms = tokenizer.terms(text.title)
                question_terms = [t for q in text.questions for t in tokenizer.terms(q)]
                question_docs.append(title_terms + question_terms)
                answer_docs.append(tokenizer.terms(text.answer))
                ngram_docs.append(" ".join([text.title, *text.questions]))
        self._questions = _bm25(question_docs)
        self._answers = _bm25(answer_docs)
        self._ngrams = NgramIndex(ngram_docs)
        self._vocabulary = _article_vocabularies(kb, tokenizer)
        self._idf = _idf(self._vocabulary)

    def search(self, text: str, limit: int = 5) -> Retrieval:
        """The whole message decides the article; a long message whose question sits in
        one sentence may take that sentence's confidence when it agrees on the article.
        Whether the rankers agree is read on the whole message."""
        whole = self._search_text(text, limit)
        value = whole.confidence
        sentences = split_sentences(text)
        if len(sentences) >= 2 and whole.top is not None:
            for sentence in sentences:
                part = self._search_text(sentence, limit)
                if part.top is not None and part.top.article_id == whole.top.article_id:
                    value = max(value, part.confidence)
        if not whole.rankers_agree:
            value *= self.weights.disagreement
        return Retrieval(whole.hits, value, whole.terms, whole.rankers_agree)

    def _search_text(self, text: str, limit: int) -> Retrieval:
        terms = self.tokenizer.terms(text)
        w = self.weights
        words = np.zeros(len(self._docs), dtype=np.float32)
        combined = np.zeros(len(self._docs), dtype=np.float32)
        if terms:
            words = w.questions * np.tanh(self._questions.get_scores(terms) / w.bm25_scale)
            combined += words
            combined += w.answer * np.tanh(self._answers.get_scores(terms) / w.bm25_scale)
        ngrams = w.ngrams * self._ngrams.scores(text)
        combined += ngrams
        best: dict[str, Hit] = {}
        for doc, score in zip(self._docs, combined.tolist(), strict=True):
            if doc.article_id not in best or score > best[doc.article_id].score:
                best[doc.article_id] = Hit(doc.article_id, doc.language, score)
        ranked = sorted(best.values(), key=lambda h: h.score, reverse=True)[:limit]
        hits = by_coverage(
            ranked, {h.article_id: self.coverage(terms, h.article_id) for h in ranked}
        )
        coverage = self.coverage(terms, hits[0].article_id) if hits else 0.0
        agree = self._best_article(words) == self._best_article(ngrams)
        return Retrieval(hits, confidence(hits, coverage, w.margin_weight), tuple(terms), agree)

    def _best_article(self, scores: np.ndarray) -> str | None:
        """The article one ranker puts first (None when it scores nothing)."""
        if not len(scores) or float(scores.max()) <= 0.0:
            return None
        return self._docs[int(scores.argmax())].article_id

    @property
    def idf(self) -> dict[str, float]:
        """Term → IDF over the KB's articles (for grouping unanswered questions)."""
        return self._idf

    def coverage(self, terms: list[str], article_id: str) -> float:
        """Share of the message's information (IDF mass) that the article speaks about.

        Words the KB never uses weigh most: "레버리지", "staking", "inheritance"
        are what make a question one the FAQ does not answer.
        """
        unique = set(terms)
        if not unique:
            return 0.0
        vocabulary = self._vocabulary.get(article_id, frozenset())
        unknown = math.log(len(self._vocabulary) + 1) + 0.7
        total = sum(self._idf.get(t, unknown) for t in unique)
        return sum(self._idf.get(t, unknown) for t in unique if t in vocabulary) / total


_SENTENCE_END = re.compile(r"(?<=[.?!…\n])\s*|(?<=[요다죠까음임])[.?!~]*\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a message, by punctuation and Korean sentence endings."""
    return [part.strip() for part in _SENTENCE_END.split(text) if len(part.strip()) >= 4]


def by_coverage(ranked: Sequence[Hit], coverage: Mapping[str, float]) -> tuple[Hit, ...]:
    """Candidates ordered by score x the share of the message they cover.

    Near-duplicate articles (otp-setup / otp-reset-lost-device, a bank deposit and
    a withdrawal rule) score alike on the words they share; the one that also
    contains the message's other key words ("폰", "은행", "잔고") is the one it asks
    about. Scores stay as retrieved, so a reordering shows up in ``confidence`` as
    a small or negative margin.
    """
    return tuple(sorted(ranked, key=lambda h: h.score * coverage[h.article_id], reverse=True))


def confidence(hits: tuple[Hit, ...], coverage: float, margin_weight: float) -> float:
    """Top score in [0, 1], lowered when the runner-up is almost as good (or scored
    higher but covers less of the message) and when much of the message is about
    things the article does not mention."""
    if not hits:
        return 0.0
    top = hits[0].score
    second = hits[1].score if len(hits) > 1 else 0.0
    margin = (top - second) / top if top > 0 else 0.0
    value = top * ((1 - margin_weight) + margin_weight * margin) * math.sqrt(coverage)
    return float(min(1.0, max(0.0, value)))


def _article_vocabularies(kb: KnowledgeBase, tokenizer: Tokenizer) -> dict[str, frozenset[str]]:
    vocabularies = {}
    for article in kb.articles:
        terms: set[str] = set()
        for text in article.texts().values():
            for field in (text.title, *text.questions, text.answer):
                terms.update(tokenizer.terms(field))
        vocabularies[article.id] = frozenset(terms)
    return vocabularies


def _idf(vocabularies: dict[str, frozenset[str]]) -> dict[str, float]:
    df = Counter(term for terms in vocabularies.values() for term in terms)
    n = len(vocabularies)
    return {term: math.log((n + 1) / (count + 0.5)) for term, count in df.items()}


def _bm25(docs: list[list[str]]) -> bm25s.BM25:
    index = bm25s.BM25()
    index.index([doc or ["∅"] for doc in docs], show_progress=False)
    return index
