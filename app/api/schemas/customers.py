"""Customer and order bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import StringConstraints, model_validator

from app.api.schemas.common import Email, IdRef, Input, Name, Output, Phone, ShortText, non_null
from app.domain.access import Locale
from app.domain.orders import OrderKind, OrderStatus

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
]
OrderNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
]
Plan = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class CustomerCreate(Input):
    code: Code
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    locale: Locale = Locale.IT
    plan: Plan | None = None


class CustomerUpdate(Input):
    model_config = non_null("code", "name", "locale")

    code: Code | None = None
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    locale: Locale | None = None
    plan: Plan | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> CustomerUpdate:
        for field in ("code", "name", "locale"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CustomerRead(Output):
    id: int
    code: str
    name: str
    email: str | None
    phone: str | None
    locale: Locale
    plan: str | None
    created_at: datetime
    updated_at: datetime


class OrderCreate(Input):
    customer_id: IdRef
    number: OrderNumber
    kind: OrderKind
    description: ShortText | None = None
    status: OrderStatus = OrderStatus.ACTIVE


class OrderUpdate(Input):
    model_config = non_null("status")

    description: ShortText | None = None
    status: OrderStatus | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> OrderUpdate:
        if "status" in self.model_fields_set and self.status is None:
            raise ValueError("status cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class OrderRead(Output):
    id: int
    customer_id: int
    number: str
    kind: OrderKind
    description: str | None
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
