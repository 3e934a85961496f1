"""Shared pieces of the schemas: strict input, bounded strings, pages."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from pydantic.config import JsonDict

from app.db.pagination import MAX_ID
from app.domain.access import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from app.domain.dates import is_time_zone


class Input(BaseModel):
    """Every request body: unknown fields are refused (no silent mass assignment)."""

    model_config = ConfigDict(extra="forbid")


def non_null(*fields: str) -> ConfigDict:
    """The config of a PATCH body whose ``fields`` may be omitted but not set to null.

    The Python type says ``X | None`` (omitted reads as None); the published schema
    must say what the validators enforce, so ``null`` is taken out of those fields.
    """

    def strip(schema: JsonDict, _cls: Any = None) -> None:
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return
        for name in fields:
            prop = properties.get(name)
            any_of = prop.get("anyOf") if isinstance(prop, dict) else None
            if not isinstance(prop, dict) or not isinstance(any_of, list):
                continue
            options = [o for o in any_of if o != {"type": "null"}]
            prop.pop("default", None)
            if len(options) == 1 and isinstance(options[0], dict):
                prop.pop("anyOf")
                prop.update(options[0])
            else:
                prop["anyOf"] = options

    return ConfigDict(extra="forbid", json_schema_extra=strip)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def no_control_chars(value: str) -> str:
    """No control characters but tab and line breaks: PostgreSQL cannot store NUL in text
    (the insert would fail as a 500), and the others have no business in our texts."""
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ValueError("control characters are not allowed")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_chars),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9+()./ -]{3,40}$")]
Email = Annotated[EmailStr, StringConstraints(max_length=320)]
Password = Annotated[
    str, StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000),
    AfterValidator(no_control_chars),
]


def time_zone(value: str) -> str:
    if not is_time_zone(value):
        raise ValueError("must be an IANA time zone name such as Europe/Rome or UTC")
    return value


TimeZone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64),
    AfterValidator(time_zone),
    Field(examples=["Europe/Rome"]),
]

IdRef = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A reference to a row by id: one that no row can have is a 422, not a database error."""


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list, with the cursor of the next page (null on the last page)."""

    items: list[T]
    next_cursor: str | None
