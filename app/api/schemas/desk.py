"""Bodies of the desk's tools: calendars, SLA policies, teams, routing, views, macros, tags."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from app.api.schemas.common import Email, IdRef, Input, Output, no_control_chars, not_blank
from app.db.models import (
    BusinessCalendar,
    Macro,
    RoutingRule,
    SlaPolicy,
    Team,
    TeamMember,
    TicketSla,
)
from app.domain.routing import Assignment, Channel
from app.domain.sla import PAUSABLE, SlaTarget, weekday_names
from app.domain.tickets import Severity, TicketStatus, TicketType, Visibility
from app.services.views import View

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(no_control_chars),
]
TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(no_control_chars),
]
Minutes = Annotated[int, Field(ge=1, le=525_600)]
Position = Annotated[int, Field(ge=0, le=100_000)]
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


def _minutes(value: str) -> int:
    if not _HHMM.match(value):
        raise ValueError("times are HH:MM, 00:00-24:00")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


Interval = Annotated[
    list[Annotated[str, StringConstraints(max_length=5)]], Field(min_length=2, max_length=2)
]


class CalendarIn(Input):
    """``hours``: per weekday (mon..sun) a list of ["HH:MM", "HH:MM"] local intervals."""

    name: Title
    tz: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    hours: dict[str, Annotated[list[Interval], Field(max_length=8)]]
    holidays: Annotated[list[date], Field(max_length=400)] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _days(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        unknown = set(value) - set(weekday_names())
        if unknown:
            raise ValueError(f"unknown weekdays: {sorted(unknown)}; use mon..sun")
        for intervals in value.values():
            for start, end in intervals:
                _minutes(start)
                _minutes(end)
        return value

    def fields(self) -> dict[str, Any]:
        week = [
            [[_minutes(s), _minutes(e)] for s, e in self.hours.get(day, [])]
            for day in weekday_names()
        ]
        return {
            "name": self.name,
            "tz": self.tz,
            "week": week,
            "holidays": sorted({d.isoformat() for d in self.holidays}),
        }


class CalendarRead(Output):
    id: int
    name: str
    tz: str
    hours: dict[str, list[list[str]]]
    holidays: list[date]

    @classmethod
    def of(cls, row: BusinessCalendar) -> CalendarRead:
        return cls(
            id=row.id,
            name=row.name,
            tz=row.tz,
            hours={
                day: [[_hhmm(s), _hhmm(e)] for s, e in row.week[i]]
                for i, day in enumerate(weekday_names())
            },
            holidays=[date.fromisoformat(d) for d in row.holidays],
        )


Plan = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class PolicyIn(Input):
    """Conditions (empty lists: any) and targets in business minutes (null: no such target)."""

    name: Title
    position: Position = 0
    active: bool = True
    calendar_id: IdRef | None = None
    plans: Annotated[list[Plan], Field(max_length=50)] = Field(default_factory=list)
    severities: Annotated[list[Severity], Field(max_length=2)] = Field(default_factory=list)
    types: Annotated[list[TicketType], Field(max_length=4)] = Field(default_factory=list)
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    pause_statuses: Annotated[list[TicketStatus], Field(max_length=2)] = Field(
        default_factory=lambda: [TicketStatus.WAITING_CUSTOMER, TicketStatus.WAITING_THIRD_PARTY]
    )
    warning_minutes: Annotated[int, Field(ge=1, le=10_080)] = 30

    @field_validator("pause_statuses")
    @classmethod
    def _pausable(cls, value: list[TicketStatus]) -> list[TicketStatus]:
        if any(s not in PAUSABLE for s in value):
            raise ValueError("only waiting_customer and waiting_third_party may pause the clock")
        return value

    def fields(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        return data


class PolicyUpdate(PolicyIn):
    name: Title | None = None  # type: ignore[assignment]

    @field_validator("name")
    @classmethod
    def _no_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class PolicyRead(Output):
    id: int
    name: str
    position: int
    active: bool
    calendar_id: int | None
    plans: list[str]
    severities: list[Severity]
    types: list[TicketType]
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    pause_statuses: list[TicketStatus]
    warning_minutes: int

    @classmethod
    def of(cls, row: SlaPolicy) -> PolicyRead:
        return cls.model_validate(row, from_attributes=True)


class TargetRead(Output):
    target: SlaTarget
    cycle: int
    target_minutes: int
    started_at: datetime
    due_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    paused: bool
    used_minutes: float

    @classmethod
    def of(cls, row: TicketSla) -> TargetRead:
        return cls(
            target=row.target,
            cycle=row.cycle,
            target_minutes=row.target_minutes,
            started_at=row.started_at,
            due_at=row.due_at,
            breached_at=row.breached_at,
            met_at=row.met_at,
            paused=row.met_at is None and row.running_since is None,
            used_minutes=round(row.used_minutes, 2),
        )


class TicketSlaRead(Output):
    policy_id: int | None
    policy_name: str | None
    next_due_at: datetime | None
    targets: list[TargetRead]


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
        if "conditions" in data:
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


_SLA = re.compile(r"^(breached|due_within:[1-9][0-9]{0,4})$")
SlaQuery = Annotated[str, StringConstraints(max_length=20, pattern=_SLA.pattern)]


class ViewFilters(Input):
    """``assignee``: "me", "none" or a user id; ``team``: "mine" or a team id."""

    status: Annotated[list[TicketStatus], Field(max_length=7)] = Field(default_factory=list)
    type: TicketType | None = None
    severity: Severity | None = None
    customer_id: IdRef | None = None
    assignee: Annotated[str, StringConstraints(pattern=r"^(me|none|[1-9][0-9]{0,9})$")] | None = (
        None
    )
    team: Annotated[str, StringConstraints(pattern=r"^(mine|[1-9][0-9]{0,9})$")] | None = None
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


MacroBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=20_000),
    AfterValidator(no_control_chars),
    AfterValidator(not_blank),
]
Bodies = Annotated[
    dict[Annotated[str, StringConstraints(pattern=r"^(it|es|en)$")], MacroBody],
    Field(min_length=1, max_length=3),
]
MacroStatus = TicketStatus


class MacroActions(Input):
    set_status: TicketStatus | None = None
    add_tags: Annotated[list[TagName], Field(max_length=10)] = Field(default_factory=list)
    team_id: IdRef | None = None


class MacroIn(Input):
    title: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
        AfterValidator(no_control_chars),
    ]
    bodies: Bodies
    visibility: Visibility = Visibility.PUBLIC
    shared: bool = False
    actions: MacroActions = Field(default_factory=MacroActions)

    def fields(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "bodies": dict(self.bodies),
            "visibility": self.visibility,
            "set_status": self.actions.set_status.value if self.actions.set_status else None,
            "add_tags": list(self.actions.add_tags),
            "team_id": self.actions.team_id,
        }


class MacroUpdate(Input):
    title: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
            AfterValidator(no_control_chars),
        ]
        | None
    ) = None
    bodies: Bodies | None = None
    visibility: Visibility | None = None
    actions: MacroActions | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> MacroUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.title is not None:
            out["title"] = self.title
        if self.bodies is not None:
            out["bodies"] = dict(self.bodies)
        if self.visibility is not None:
            out["visibility"] = self.visibility
        if self.actions is not None:
            out["set_status"] = self.actions.set_status.value if self.actions.set_status else None
            out["add_tags"] = list(self.actions.add_tags)
            out["team_id"] = self.actions.team_id
        return out


class MacroRead(Output):
    id: int
    title: str
    shared: bool
    owner_id: int | None
    bodies: dict[str, str]
    visibility: Visibility
    actions: MacroActions

    @classmethod
    def of(cls, row: Macro) -> MacroRead:
        return cls(
            id=row.id,
            title=row.title,
            shared=row.owner_id is None,
            owner_id=row.owner_id,
            bodies=row.bodies,
            visibility=row.visibility,
            actions=MacroActions(
                set_status=TicketStatus(row.set_status) if row.set_status else None,
                add_tags=row.add_tags,
                team_id=row.team_id,
            ),
        )


class MacroList(Output):
    items: list[MacroRead]


class TagsIn(Input):
    tags: Annotated[list[TagName], Field(min_length=1, max_length=20)]


class TicketTags(Output):
    ticket_id: int
    tags: list[str]


class TagCount(Output):
    name: str
    count: int


class TagList(Output):
    items: list[TagCount]
