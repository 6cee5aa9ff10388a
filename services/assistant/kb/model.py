"""The knowledge base format: articles (ko/en) and a synonym table.

Same schema as the shared FAQ corpus (``version``, ``articles``) plus an
optional ``synonyms`` list; see the README of this service.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

LANGUAGES = ("ko", "en")

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ArticleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArticleText(Strict):
    """One language version of an article."""

    title: NonBlank
    questions: list[NonBlank] = Field(..., min_length=1)
    answer: NonBlank


class Article(Strict):
    id: ArticleId
    category: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
    ko: ArticleText | None = None
    en: ArticleText | None = None
    handoff: bool = Field(False, description="Answer, then hand the conversation to a person.")

    @model_validator(mode="after")
    def _has_a_language(self) -> Article:
        if self.ko is None and self.en is None:
            raise ValueError("an article needs at least one language (ko or en)")
        return self

    def text(self, language: str) -> ArticleText | None:
        return self.ko if language == "ko" else self.en if language == "en" else None

    def texts(self) -> dict[str, ArticleText]:
        return {lang: text for lang in LANGUAGES if (text := self.text(lang)) is not None}


SynonymGroup = Annotated[list[NonBlank], Field(min_length=2)]


class KbFile(Strict):
    """One YAML file of the KB folder."""

    version: int = Field(1, ge=1, le=1)
    articles: list[Article] = Field(default_factory=list)
    synonyms: list[SynonymGroup] = Field(default_factory=list)


class KnowledgeBase(Strict):
    """Every file of the folder, merged and checked across files."""

    articles: tuple[Article, ...]
    synonyms: tuple[tuple[str, ...], ...] = ()
    sources: tuple[str, ...] = ()

    def by_id(self) -> dict[str, Article]:
        return {article.id: article for article in self.articles}
