"""Text → index terms: Kiwi morphemes for Korean, stemmed words for English.

One tokenizer serves both languages because customers mix them: Hangul runs
go through Kiwi (content morphemes, verbs by lemma), Latin words through a
lower-casing Snowball stemmer. Synonym groups from the KB add one shared
term (``≡출금``) wherever any member occurs, so 인출, withdrawal and 출금
meet in the index.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import snowballstemmer
from kiwipiepy import Kiwi

from services.assistant.retrieval.memory import release_free_memory

#: Kiwi tags kept as terms: nouns, verbs/adjectives (by lemma), roots, foreign words.
_KEPT_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "VV", "VA", "XR", "SL", "SH", "MAG"})
#: Grammatical or ubiquitous Korean lemmas that say nothing about the topic.
_KO_STOP = frozenset(
    [
        "하다",
        "되다",
        "이다",
        "있다",
        "없다",
        "않다",
        "주다",
        "보다",
        "싶다",
        "같다",
        "그렇다",
        "어떻다",
        "이렇다",
        "것",
        "수",
        "거",
        "때",
        "좀",
        "등",
        "번",
        "분",
        "뭐",
        "왜",
        "안",
        "못",
        "더",
        "잘",
        "다",
        "또",
        "그냥",
        "지금",
        "진짜",
        "너무",
        "아직",
        "계속",
        "이제",
        "혹시",
        "제발",
        "빨리",
        "이거",
        "그거",
        "저거",
        "여기",
        "거기",
        "ㅠ",
        "ㅜ",
        "ㅋ",
        "ㅎ",
    ]
)
_EN_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "about",
        "into",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "done",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "our",
        "us",
        "you",
        "your",
        "u",
        "ur",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "nor",
        "so",
        "too",
        "very",
        "just",
        "only",
        "also",
        "than",
        "then",
        "now",
        "any",
        "some",
        "all",
        "each",
        "other",
        "such",
        "own",
        "same",
        "s",
        "t",
        "don",
        "dont",
        "doesnt",
        "didnt",
        "im",
        "ive",
        "its",
        "it's",
        "please",
        "pls",
        "plz",
        "hi",
        "hello",
        "thanks",
        "thank",
        "hey",
        "lol",
        "ok",
        "okay",
        "get",
        "got",
        "still",
        "yet",
        "again",
        "even",
        "ever",
        "over",
        "after",
        "before",
        "since",
        "while",
        "because",
        "until",
        "against",
        "between",
        "through",
        "during",
        "without",
        "within",
        "per",
        "via",
        "one",
    ]
)
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def english_terms(text: str) -> list[str]:
    words = [w.replace("'", "") for w in _LATIN_WORD.findall(text.lower())]
    words = [w for w in words if len(w) > 1 and w not in _EN_STOP and not w.isdigit()]
    return _stemmer().stemWords(words)


#: Kiwi's constructor options (see bench/assistant_kiwi.py for the figures behind them):
#: the multi-word (WikiData) dictionary costs ~180 MB and the default (Wikipedia proper
#: nouns) one ~50 MB, the typo dictionary ~4 MB; none changes a dev-set answer. The
#: KB's own words are added as user words. One thread: it tokenizes one short text.
KIWI_OPTIONS: dict[str, Any] = {
    "load_multi_dict": False,
    "load_default_dict": False,
    "load_typo_dict": False,
    "num_workers": 0,
}


class KoreanAnalyzer:
    """Kiwi with the KB's own words added; built once per process (~250 MB model).

    Kiwi's analyser is not documented as thread-safe, and the reloader builds a
    new index in a worker thread while the loop answers, so calls are serialised.
    """

    def __init__(
        self,
        user_words: Iterable[str] = (),
        *,
        kiwi_options: Mapping[str, Any] | None = None,
        release_memory: bool = True,
    ) -> None:
        # Options measured by bench/assistant_kiwi.py (RSS and eval accuracy per variant).
        with warnings.catch_warnings():
            # "behavior of num_workers=0 is changed since v0.21": single-threaded is meant.
            warnings.filterwarnings("ignore", "behavior of `num_workers=0`", DeprecationWarning)
            self._kiwi = Kiwi(**{**KIWI_OPTIONS, **(kiwi_options or {})})
        self._lock = threading.Lock()
        self._added: set[str] = set()
        self._built = False
        self._release_memory = release_memory  # off only to measure what it saves
        self.add_words(user_words)
        self.build()

    def add_words(self, words: Iterable[str]) -> None:
        with self._lock:
            for word in words:
                word = word.strip()
                if word and " " not in word and _HANGUL.search(word) and word not in self._added:
                    self._kiwi.add_user_word(word, "NNP")
                    self._added.add(word)
                    self._built = False

    def build(self) -> None:
        """Build Kiwi's model now (it is lazy: the first tokenize after a change builds)
        and give the memory the build freed back to the OS, in this thread."""
        with self._lock:
            if self._built:
                return
            self._kiwi.tokenize("")
            self._built = True
            if self._release_memory:
                release_free_memory()

    def terms(self, text: str) -> list[str]:
        with self._lock:
            tokens = self._kiwi.tokenize(text)
            self._built = True
        terms: list[str] = []
        for token in tokens:
            tag = token.tag.split("-", 1)[0]  # "VV-R" / "VV-I": regular/irregular verb
            if tag not in _KEPT_TAGS:
                continue
            if tag == "SL":
                terms.extend(english_terms(token.form))
                continue
            lemma = token.lemma if tag in ("VV", "VA") else token.form
            if tag == "MAG" and lemma not in ("안", "못"):
                continue
            if lemma not in _KO_STOP:
                terms.append(lemma)
        return terms


@dataclass(frozen=True, slots=True)
class SynonymTable:
    """Groups of interchangeable terms, each as its analysed term sequences."""

    groups: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = field(default=())

    def expand(self, terms: list[str]) -> list[str]:
        added: list[str] = []
        for canonical, members in self.groups:
            if any(_contains(terms, member) for member in members):
                added.append(canonical)
        return terms + added


def _contains(terms: list[str], sequence: tuple[str, ...]) -> bool:
    if not sequence:
        return False
    if len(sequence) == 1:
        return sequence[0] in terms
    first, size = sequence[0], len(sequence)
    return any(
        terms[i] == first and tuple(terms[i : i + size]) == sequence
        for i in range(len(terms) - size + 1)
    )


class Tokenizer:
    """Terms of a text in either language, synonyms expanded."""

    def __init__(self, korean: KoreanAnalyzer, synonyms: SynonymTable | None = None) -> None:
        self._korean = korean
        self.synonyms = synonyms or SynonymTable()

    def raw_terms(self, text: str) -> list[str]:
        if _HANGUL.search(text):
            return self._korean.terms(text)
        return english_terms(text)

    def terms(self, text: str) -> list[str]:
        return self.synonyms.expand(self.raw_terms(text))

    def with_synonyms(self, groups: Iterable[Sequence[str]]) -> Tokenizer:
        """A tokenizer whose synonym table is ``groups`` (each a list of surface terms)."""
        groups = [list(g) for g in groups]
        self._korean.add_words(word for group in groups for word in group)
        self._korean.build()
        table = []
        for group in groups:
            members = tuple(
                dict.fromkeys(tuple(self.raw_terms(term)) for term in group if term.strip())
            )
            members = tuple(m for m in members if m)
            if members:
                table.append((f"≡{group[0].strip().lower()}", members))
        return Tokenizer(self._korean, SynonymTable(tuple(table)))
