"""Knowledge-base articles, solved-ticket search and suggestions for a draft ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from app.api.schemas.common import IdRef, Input, Output, no_control_chars, non_null, not_blank
from app.api.schemas.tickets import CustomerCode, LongText, Subject, TicketRead
from app.domain.access import Locale
from app.domain.tickets import TicketType

BODY_MAX = 100_000


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_chars),
]
Markdown = Annotated[
    str,
    StringConstraints(min_length=1, max_length=BODY_MAX),
    AfterValidator(not_blank),
    AfterValidator(no_control_chars),
]


class ArticleCreate(Input):
    title: Title
    body: Markdown = Field(description="Markdown, stored as given: render it sanitised.")
    category_id: IdRef | None = None
    locale: Locale
    published: bool = Field(default=False, description="A draft (false) is for staff only.")


class ArticleUpdate(Input):
    model_config = non_null("title", "body", "locale", "published")

    title: Title | None = None
    body: Markdown | None = None
    category_id: IdRef | None = None
    locale: Locale | None = None
    published: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ArticleUpdate:
        for name in ("title", "body", "locale", "published"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ArticleRead(Output):
    id: int
    title: str
    body: str
    category_id: int | None
    locale: Locale
    published: bool
    created_at: datetime
    updated_at: datetime


class SuggestRequest(Input):
    """A ticket not yet opened: its subject and, if written yet, its description and type."""

    subject: Subject
    description: LongText | None = None
    type: TicketType | None = None
    customer_code: CustomerCode | None = Field(
        default=None,
        description="Whose solved tickets to suggest: staff name the customer (without it "
        "they get articles only); a customer user's are their own company's, and they may "
        "give only their own code.",
    )


class ArticleSuggestion(ArticleRead):
    score: float = Field(description="Relevance, higher is better; compare within one answer.")


class TicketSuggestion(TicketRead):
    score: float = Field(description="Relevance, higher is better; compare within one answer.")


class Suggestions(Output):
    articles: list[ArticleSuggestion]
    tickets: list[TicketSuggestion]
