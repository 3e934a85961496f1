"""The desk's working tools: service levels, teams and routing, saved views, macros, tags.

SLA facts live in ``ticket_sla``, one row per ticket, target and cycle (a next
response is a new cycle each time the customer writes again), with its due,
met and breached times as columns: reports read them with plain indexed queries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime, utcnow
from app.db.models.accounts import TimestampMixin, str_enum
from app.domain.routing import Assignment
from app.domain.sla import SlaTarget
from app.domain.tickets import Visibility


class BusinessCalendar(TimestampMixin, Base):
    """Opening hours: ``week`` is seven lists (Monday first) of [start, end] minutes of the
    local day; ``holidays`` ISO dates."""

    __tablename__ = "business_calendar"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    tz: Mapped[str] = mapped_column(String(64))
    week: Mapped[list[list[list[int]]]] = mapped_column(JSON)
    holidays: Mapped[list[str]] = mapped_column(JSON)


class SlaPolicy(TimestampMixin, Base):
    """Targets in business minutes for the tickets matching its conditions (empty: any)."""

    __tablename__ = "sla_policy"
    __table_args__ = (Index("ix_sla_policy_position", "position", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_calendar.id", ondelete="RESTRICT"), index=True
    )
    plans: Mapped[list[str]] = mapped_column(JSON)
    severities: Mapped[list[str]] = mapped_column(JSON)
    types: Mapped[list[str]] = mapped_column(JSON)
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    pause_statuses: Mapped[list[str]] = mapped_column(JSON)
    warning_minutes: Mapped[int] = mapped_column(Integer, default=30)


class TicketSla(Base):
    """One target's clock on one ticket (one cycle of it).

    ``alarm_at`` is the next time the worker must look at the row (the warning, then the
    breach; null when nothing is pending): the worker's scan is one index range on it.
    ``warned_at`` and ``breached_at`` are set once, under the row's lock, in the
    transaction that records the event: that is what makes each event happen once.
    """

    __tablename__ = "ticket_sla"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target", "cycle", name="uq_ticket_sla_ticket_id"),
        Index("ix_ticket_sla_alarm_at", "alarm_at", "id"),
        Index("ix_ticket_sla_due_at", "due_at"),
        Index("ix_ticket_sla_breached_at", "breached_at"),
        Index("ix_ticket_sla_policy_id_started_at", "policy_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policy.id", ondelete="SET NULL"))
    target: Mapped[SlaTarget] = mapped_column(str_enum(SlaTarget, "sla_target"))
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    target_minutes: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alarm_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Team(TimestampMixin, Base):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))


class TeamMember(Base):
    """An agent in a team; ``away`` members get no automatic assignment."""

    __tablename__ = "team_member"
    __table_args__ = (Index("ix_team_member_user_id", "user_id"),)

    team_id: Mapped[int] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RoutingRule(TimestampMixin, Base):
    """Conditions (a JSON object of lists, empty: any) -> a team, and how to assign in it."""

    __tablename__ = "routing_rule"
    __table_args__ = (Index("ix_routing_rule_position", "position", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    assignment: Mapped[Assignment] = mapped_column(str_enum(Assignment, "assignment"))


class SavedView(TimestampMixin, Base):
    """A saved list filter: personal (``owner_id``) or shared (no owner)."""

    __tablename__ = "saved_view"
    __table_args__ = (Index("ix_saved_view_owner_id", "owner_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    sort: Mapped[str] = mapped_column(String(20))


class Macro(TimestampMixin, Base):
    """A canned reply: a body per language, and actions applied with it."""

    __tablename__ = "macro"
    __table_args__ = (Index("ix_macro_owner_id", "owner_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    bodies: Mapped[dict[str, str]] = mapped_column(JSON)
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "visibility"))
    set_status: Mapped[str | None] = mapped_column(String(32))
    add_tags: Mapped[list[str]] = mapped_column(JSON)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))


class Tag(Base):
    """A tag, with the number of tickets carrying it (kept by the add and the remove)."""

    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    ticket_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketTag(Base):
    __tablename__ = "ticket_tag"
    __table_args__ = (Index("ix_ticket_tag_tag_id_ticket_id", "tag_id", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
