"""The commit's flush lets go of the rows it wrote without ``expunge``'s per-row walk
for cascades: only right while those models map no relationship, checked here."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import CORE_UPDATED_SQLITE, _without_relationships


def test_the_core_updated_models_map_no_relationship():
    assert {Conversation, Agent} == CORE_UPDATED_SQLITE
    for model in CORE_UPDATED_SQLITE:
        _without_relationships(model)


def test_a_model_with_a_relationship_is_refused():
    class Base(DeclarativeBase):
        pass

    class Parent(Base):
        __tablename__ = "parent"
        id: Mapped[int] = mapped_column(primary_key=True)
        children: Mapped[list[Child]] = relationship()

    class Child(Base):
        __tablename__ = "child"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(sa.ForeignKey("parent.id"))

    with pytest.raises(TypeError, match="cascade"):
        _without_relationships(Parent)
