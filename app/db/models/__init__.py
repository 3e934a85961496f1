"""The tables, one module per aggregate; importing this package registers them all."""

from app.db.models.accounts import (
    ApiKey,
    AuthToken,
    Customer,
    CustomerOrder,
    LoginFailure,
    TimestampMixin,
    User,
    str_enum,
)

__all__ = [
    "ApiKey",
    "AuthToken",
    "Customer",
    "CustomerOrder",
    "LoginFailure",
    "TimestampMixin",
    "User",
    "str_enum",
]
