"""Bodies of service levels (calendars, policies, a ticket's clocks) and the desk's shared types."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from app.api.schemas.common import IdRef, Input, Output, no_control_chars
from app.db.models import (
    BusinessCalendar,
    SlaPolicy,
    TicketSla,
)
from app.domain.sla import PAUSABLE, SlaTarget, weekday_names
from app.domain.tickets import Severity, TicketStatus, TicketType

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


_SLA = re.compile(r"^(breached|due_within:([1-9][0-9]{0,4}|100000))$")
SlaQuery = Annotated[str, StringConstraints(max_length=20, pattern=_SLA.pattern)]
