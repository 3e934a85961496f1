"""Bodies of teams, routing rules and saved views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.api.schemas.common import Email, IdRef, Input, Output
from app.api.schemas.sla import Position, SlaQuery, TagName, Title
from app.db.models import (
    RoutingRule,
    Team,
    TeamMember,
)
from app.db.pagination import MAX_ID
from app.domain.routing import Assignment, Channel
from app.domain.tickets import Severity, TicketStatus, TicketType
from app.services.views import View


class TeamIn(Input):
    name: Title
    email: Email | None = None


class TeamUpdate(Input):
    name: Title | None = None
    email: Email | None = None

    @field_validator("name")
    @classmethod
    def _no_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value


class MemberIn(Input):
    away: bool | None = None


class MemberRead(Output):
    user_id: int
    away: bool
    last_assigned_at: datetime | None


class TeamRead(Output):
    id: int
    name: str
    email: str | None
    members: list[MemberRead]

    @classmethod
    def of(cls, team: Team, members: list[TeamMember]) -> TeamRead:
        return cls(
            id=team.id,
            name=team.name,
            email=team.email,
            members=[MemberRead.model_validate(m, from_attributes=True) for m in members],
        )


class RuleConditions(Input):
    types: Annotated[list[TicketType], Field(max_length=4)] = Field(default_factory=list)
    category_ids: Annotated[list[IdRef], Field(max_length=100)] = Field(default_factory=list)
    severities: Annotated[list[Severity], Field(max_length=2)] = Field(default_factory=list)
    customer_ids: Annotated[list[IdRef], Field(max_length=100)] = Field(default_factory=list)
    channels: Annotated[list[Channel], Field(max_length=3)] = Field(default_factory=list)
    tags: Annotated[list[TagName], Field(max_length=20)] = Field(default_factory=list)


class RuleIn(Input):
    name: Title
    position: Position = 0
    active: bool = True
    conditions: RuleConditions = Field(default_factory=RuleConditions)
    team_id: IdRef
    assignment: Assignment = Assignment.NONE

    def fields(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["conditions"]["tags"] = [
            " ".join(t.split()).casefold() for t in data["conditions"]["tags"]
        ]
        data["assignment"] = self.assignment
        return data


class RuleUpdate(Input):
    name: Title | None = None
    position: Position | None = None
    active: bool | None = None
    conditions: RuleConditions | None = None
    team_id: IdRef | None = None
    assignment: Assignment | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> RuleUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_unset=True)
        if self.conditions is not None:
            # New conditions replace the old whole, every list written (exclude_unset would
            # drop the lists the body left out: `{"conditions": {}}` was a KeyError, a 500).
            data["conditions"] = self.conditions.model_dump(mode="json")
            data["conditions"]["tags"] = [
                " ".join(t.split()).casefold() for t in data["conditions"]["tags"]
            ]
        if self.assignment is not None:
            data["assignment"] = self.assignment
        return data


class RuleRead(Output):
    id: int
    name: str
    position: int
    active: bool
    conditions: dict[str, Any]
    team_id: int
    assignment: Assignment

    @classmethod
    def of(cls, row: RoutingRule) -> RuleRead:
        return cls.model_validate(row, from_attributes=True)


def _id_in_range(value: str | None) -> str | None:
    """An id no row can have is refused (it would fail in the database on PostgreSQL when the
    view is read); the words (me, none, mine) pass."""
    if value is not None and value.isdigit() and int(value) > MAX_ID:
        raise ValueError(f"an id is at most {MAX_ID}")
    return value


class ViewFilters(Input):
    """``assignee``: "me", "none" or a user id; ``team``: "mine" or a team id."""

    status: Annotated[list[TicketStatus], Field(max_length=7)] = Field(default_factory=list)
    type: TicketType | None = None
    severity: Severity | None = None
    customer_id: IdRef | None = None
    assignee: (
        Annotated[
            str,
            StringConstraints(pattern=r"^(me|none|[1-9][0-9]{0,9})$"),
            AfterValidator(_id_in_range),
        ]
        | None
    ) = None
    team: (
        Annotated[
            str,
            StringConstraints(pattern=r"^(mine|[1-9][0-9]{0,9})$"),
            AfterValidator(_id_in_range),
        ]
        | None
    ) = None
    sla: SlaQuery | None = None
    tags: Annotated[list[TagName], Field(max_length=10)] = Field(default_factory=list)
    tag_mode: Annotated[str, StringConstraints(pattern=r"^(any|all)$")] = "any"


class ViewIn(Input):
    name: Title
    shared: bool = False
    filters: ViewFilters = Field(default_factory=ViewFilters)
    sort: Annotated[
        str,
        StringConstraints(
            pattern=r"^(due|created_at|-created_at|updated_at|-updated_at|severity)$"
        ),
    ] = "due"


class ViewRead(Output):
    id: str
    name: str
    shared: bool
    built_in: bool
    filters: dict[str, Any]
    sort: str

    @classmethod
    def of(cls, view: View) -> ViewRead:
        return cls(
            id=view.id,
            name=view.name,
            shared=view.shared,
            built_in=view.built_in,
            filters=view.filters,
            sort=view.sort,
        )


class ViewList(Output):
    items: list[ViewRead]
