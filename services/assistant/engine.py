"""A loaded KB ready to answer: the retriever and what the decisions need.

Built once per KB version (start-up, each good reload); the Kiwi analyser is
shared between versions because loading its model is the expensive part.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.assistant.kb.model import Article, KnowledgeBase
from services.assistant.retrieval.index import Retrieval, Retriever
from services.assistant.retrieval.tokens import KoreanAnalyzer, Tokenizer


@dataclass(frozen=True)
class Engine:
    kb: KnowledgeBase
    retriever: Retriever
    articles: dict[str, Article]
    handoff_articles: frozenset[str]

    def search(self, text: str) -> Retrieval:
        return self.retriever.search(text)

    def answer_text(self, article_id: str, language: str) -> tuple[str, str]:
        """(language, text) of the article's answer, in the customer's language if it has one."""
        article = self.articles[article_id]
        text = article.text(language)
        if text is None:
            language, text = next(iter(article.texts().items()))
        return language, text.answer.strip()

    def title(self, article_id: str, language: str) -> str:
        article = self.articles[article_id]
        text = article.text(language) or next(iter(article.texts().values()))
        return text.title


def build_engine(kb: KnowledgeBase, analyzer: KoreanAnalyzer) -> Engine:
    tokenizer = Tokenizer(analyzer).with_synonyms(kb.synonyms)
    return Engine(
        kb=kb,
        retriever=Retriever(kb, tokenizer),
        articles=kb.by_id(),
        handoff_articles=frozenset(a.id for a in kb.articles if a.handoff),
    )
