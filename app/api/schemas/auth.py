"""Login, profile and API-key bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from app.api.schemas.common import (
    Email,
    IdRef,
    Input,
    Name,
    Output,
    Password,
    Phone,
    TimeZone,
    non_null,
)
from app.api.schemas.customers import CustomerRead
from app.domain.access import Locale, Role, Scope


class LoginRequest(Input):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenRead(Output):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_at: datetime


class UserRead(Output):
    id: int
    email: str
    name: str
    phone: str | None
    role: Role
    customer_id: int | None
    locale: Locale
    time_zone: str = Field(description="IANA name; plain dates in filters start at midnight there.")
    is_active: bool
    created_at: datetime
    updated_at: datetime


class MeUpdate(Input):
    model_config = non_null("name", "locale", "time_zone", "email")

    email: Email | None = Field(
        default=None,
        description="A new address: it takes effect when the link mailed to it is opened "
        "(within 24 hours); needs `current_password`.",
    )
    name: Name | None = None
    phone: Phone | None = None
    locale: Locale | None = None
    time_zone: TimeZone | None = None
    password: Password | None = None
    current_password: Annotated[str, StringConstraints(max_length=256)] | None = None

    @model_validator(mode="after")
    def _password_needs_current(self) -> MeUpdate:
        if self.password is not None and not self.current_password:
            raise ValueError("current_password is required to change the password")
        if self.email is not None and not self.current_password:
            raise ValueError("current_password is required to change the e-mail address")
        if self.name is None and "name" in self.model_fields_set:
            raise ValueError("name cannot be null")
        for field in ("locale", "time_zone", "email"):
            if getattr(self, field) is None and field in self.model_fields_set:
                raise ValueError(f"{field} cannot be null")
        return self


class OrdersSummary(Output):
    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]


class MyCustomerRead(CustomerRead):
    orders_summary: OrdersSummary


class ApiKeyCreate(Input):
    name: Annotated[Name, StringConstraints(max_length=100)]  # the api_key.name column
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]


class ApiKeyRead(Output):
    id: int
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret, shown only in this answer; store it safely.")


class UserCreate(Input):
    email: Email
    name: Name
    password: Password
    role: Role = Role.CUSTOMER
    customer_id: IdRef | None = None
    phone: Phone | None = None
    locale: Locale = Locale.IT


class UserUpdate(Input):
    model_config = non_null("email", "name", "password", "role", "locale", "is_active")

    email: Email | None = None
    name: Name | None = None
    password: Password | None = None
    role: Role | None = None
    customer_id: IdRef | None = None
    phone: Phone | None = None
    locale: Locale | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> UserUpdate:
        for field in ("email", "name", "password", "role", "locale", "is_active"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class EmailConfirmation(Input):
    token: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class EmailConfirmed(Output):
    email: str = Field(description="The user's address (and login) from now on.")
