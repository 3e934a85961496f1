"""Categories: the tree of types, areas and sub-areas, with their names in each language."""

from __future__ import annotations

from pydantic import Field

from app.api.schemas.common import IdRef, Input, Output
from app.api.schemas.tickets import CategoryName, category_name
from app.db.models import Category
from app.domain.tickets import TicketType


class CategoryNames(Input):
    """A category's name in each language (omitted or null: the base name is used)."""

    it: CategoryName | None = None
    es: CategoryName | None = None
    en: CategoryName | None = None


class CategoryCreate(Input):
    type: TicketType
    name: CategoryName
    parent_id: IdRef | None = None
    names: CategoryNames | None = None


class CategoryUpdate(Input):
    name: CategoryName | None = None
    names: CategoryNames | None = None


class CategoryNamesRead(Output):
    it: str | None
    es: str | None
    en: str | None


class CategoryRead(Output):
    id: int
    type: TicketType
    name: str = Field(description="In the caller's language (its translation, else the base name).")
    names: CategoryNamesRead
    parent_id: int | None
    children: list[CategoryRead] = Field(default_factory=list)

    @classmethod
    def of(
        cls, category: Category, lang: str, children: list[CategoryRead] | None = None
    ) -> CategoryRead:
        return cls(
            id=category.id,
            type=category.type,
            name=category_name(category, lang),
            names=CategoryNamesRead(it=category.name_it, es=category.name_es, en=category.name_en),
            parent_id=category.parent_id,
            children=children or [],
        )
