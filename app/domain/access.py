"""Who may do what: roles, API-key scopes, and the caller of a use case (the actor).

Every permission check of the service layer goes through the functions here, so
the rules of the roles can be read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import Forbidden


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"


class Scope(StrEnum):
    TICKETS_READ = "tickets:read"
    TICKETS_WRITE = "tickets:write"
    TICKETS_IMPORT = "tickets:import"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    KB_READ = "kb:read"
    KB_WRITE = "kb:write"
    METRICS_READ = "metrics:read"
    MAIL_INGEST = "mail:ingest"
    REPORTS_READ = "reports:read"


PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256


def password_problem(password: str) -> str | None:
    """What is wrong with a new password under the policy (``POST /users``, ``PATCH /me``,
    ``create-admin``, the first admin), or None."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"has at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"has at most {PASSWORD_MAX_LENGTH} characters"
    return None


class Locale(StrEnum):
    IT = "it"
    ES = "es"
    EN = "en"


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller: a logged-in user, or an integrator's API key acting as an agent.

    ``scopes`` is None for users (a role grants everything it allows) and the key's
    scopes for an API key.
    """

    role: Role
    user_id: int | None
    customer_id: int | None
    name: str
    scopes: frozenset[Scope] | None = None
    api_key_id: int | None = None
    time_zone: str = "UTC"
    """Where the caller's plain dates start (a user's profile; UTC for an API key)."""
    locale: str | None = None
    """The user's language (labels and category names follow it); None for an API key."""
    channel: str | None = None
    """How the caller reached us when it is not the API or the portal (``"email"``)."""

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.AGENT, Role.ADMIN)

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None


def require_staff(actor: Actor, scope: Scope) -> None:
    """Agents and admins pass; an API key needs ``scope``; customers are refused."""
    if not actor.is_staff:
        raise Forbidden("This operation is reserved to the support staff.")
    if actor.scopes is not None and scope not in actor.scopes:
        raise Forbidden(f"This API key lacks the scope {scope.value!r}.")


def require_scope(actor: Actor, scope: Scope) -> None:
    """For operations open to customers too: an API key still needs ``scope``."""
    if actor.scopes is not None and scope not in actor.scopes:
        raise Forbidden(f"This API key lacks the scope {scope.value!r}.")


def require_admin(actor: Actor) -> None:
    if actor.role is not Role.ADMIN or actor.is_api_key:
        raise Forbidden("This operation is reserved to administrators.")


def require_metrics_reader(actor: Actor) -> None:
    """``/metrics``: administrators, and API keys given ``metrics:read`` (a scraper's key)."""
    if actor.is_api_key:
        require_scope(actor, Scope.METRICS_READ)
    elif actor.role is not Role.ADMIN:
        raise Forbidden("Metrics are for administrators and keys with 'metrics:read'.")


def require_user(actor: Actor) -> int:
    """Operations on one's own profile need a user, not an API key."""
    if actor.user_id is None:
        raise Forbidden("API keys have no user profile.")
    return actor.user_id


def may_manage_user(actor: Actor, target_role: Role) -> None:
    """Admins manage every user; agents manage customer users only; API keys none."""
    if actor.is_api_key or not actor.is_staff:
        raise Forbidden("Only staff users may manage users.")
    if actor.role is Role.AGENT and target_role is not Role.CUSTOMER:
        raise Forbidden("Agents may manage customer users only.")


def may_see_customer(actor: Actor, customer_id: int) -> bool:
    """The one visibility rule: staff see every customer's data, a customer user their own."""
    return actor.is_staff or actor.customer_id == customer_id
