"""Service levels on tickets: the clock subscriber and the worker's warning/breach job.

The subscriber listens to ticket events inside the change's transaction: an
opening picks the first matching policy and starts its clocks; a staff public
reply meets the response targets; a customer's public reply starts a next-response
cycle; a status change pauses or resumes the resolution clock (per the policy),
stops every clock at resolution or closure, and starts a new resolution cycle on a
reopen. ``ticket.sla_due_at`` is kept equal to the earliest running due time, so
lists sort and filter on one indexed column.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.config import Settings, get_settings
from app.db.base import utcnow
from app.db.models import (
    BusinessCalendar,
    Customer,
    Notification,
    SlaPolicy,
    Team,
    Ticket,
    TicketSla,
    User,
)
from app.domain import sla
from app.domain.access import Locale, Role
from app.domain.events import (
    DomainEvent,
    ReplyPosted,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TicketOpened,
)
from app.domain.notifications import NotificationKind, NotificationStatus
from app.domain.tickets import TicketStatus, Visibility
from app.services import probes, timeline


def calendar_of(row: BusinessCalendar | None) -> sla.Calendar:
    if row is None:
        return sla.always_open()
    week = tuple(tuple((int(s), int(e)) for s, e in day) for day in row.week)
    return sla.Calendar(row.tz, week, frozenset(date.fromisoformat(d) for d in row.holidays))


def _conditions(policy: SlaPolicy) -> sla.PolicyConditions:
    return sla.PolicyConditions(
        frozenset(p.casefold() for p in policy.plans),
        frozenset(policy.severities),
        frozenset(policy.types),
    )


async def _calendar(session: AsyncSession, policy: SlaPolicy) -> sla.Calendar:
    if policy.calendar_id is None:
        return sla.always_open()
    return calendar_of(await session.get(BusinessCalendar, policy.calendar_id))


def _clock(row: TicketSla) -> sla.Clock:
    return sla.Clock(
        row.target_minutes, row.started_at, row.used_minutes, row.running_since, row.met_at
    )


def _write(row: TicketSla, clock: sla.Clock, cal: sla.Calendar, warn_minutes: int) -> None:
    """Put a clock computed by the domain on the row, with its due time and next alarm."""
    row.used_minutes = clock.used_minutes
    row.running_since = clock.running_since
    row.met_at = clock.met_at
    if clock.met_at is None:
        # A met target keeps the due time it had: reports compare the two.
        row.due_at = clock.due_at(cal)
    row.alarm_at = None
    if clock.met_at is None and clock.running_since is not None and row.breached_at is None:
        warn = None
        if row.warned_at is None and clock.target_minutes > warn_minutes:
            warn = sla.warning_at(cal, clock, warn_minutes)
        row.alarm_at = warn or row.due_at


async def _policy(session: AsyncSession, ticket: Ticket) -> SlaPolicy | None:
    if ticket.sla_policy_id is None:
        return None
    return await session.get(SlaPolicy, ticket.sla_policy_id)


async def _refresh_due(session: AsyncSession, ticket: Ticket) -> None:
    await session.flush()
    due = await session.scalar(
        select(func.min(TicketSla.due_at)).where(
            TicketSla.ticket_id == ticket.id,
            TicketSla.met_at.is_(None),
            TicketSla.running_since.is_not(None),
        )
    )
    if due != ticket.sla_due_at:
        ticket.sla_due_at = due


def _new_row(
    ticket: Ticket,
    policy: SlaPolicy,
    target: sla.SlaTarget,
    minutes: int,
    cycle: int,
    now: datetime,
    cal: sla.Calendar,
    *,
    paused: bool = False,
) -> TicketSla:
    row = TicketSla(
        ticket_id=ticket.id,
        policy_id=policy.id,
        target=target,
        cycle=cycle,
        target_minutes=minutes,
        started_at=now,
    )
    _write(row, sla.start(minutes, now, paused=paused), cal, policy.warning_minutes)
    return row


async def _opened(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    if probes.none(session, "sla"):
        return  # the opening's own statement found no active policy
    policies = (
        await session.scalars(
            select(SlaPolicy)
            .where(SlaPolicy.active.is_(True))
            .order_by(SlaPolicy.position, SlaPolicy.id)
        )
    ).all()
    if not policies:
        return
    customer = await session.get(Customer, ticket.customer_id)
    plan = customer.plan if customer is not None else None
    chosen = sla.first_match(
        [(p.id, _conditions(p)) for p in policies],
        plan,
        ticket.severity.value,
        ticket.type.value,
    )
    policy = next((p for p in policies if p.id == chosen), None)
    if policy is None:
        return
    ticket.sla_policy_id = policy.id
    cal = await _calendar(session, policy)
    for target, minutes in (
        (sla.SlaTarget.FIRST_RESPONSE, policy.first_response_minutes),
        (sla.SlaTarget.RESOLUTION, policy.resolution_minutes),
    ):
        if minutes is not None:
            session.add(_new_row(ticket, policy, target, minutes, 1, now, cal))
    await _refresh_due(session, ticket)


async def _open_rows(session: AsyncSession, ticket_id: int) -> list[TicketSla]:
    return list(
        (
            await session.scalars(
                select(TicketSla)
                .where(TicketSla.ticket_id == ticket_id, TicketSla.met_at.is_(None))
                .order_by(TicketSla.id)
            )
        ).all()
    )


async def _next_cycle(session: AsyncSession, ticket_id: int, target: sla.SlaTarget) -> int:
    last = await session.scalar(
        select(func.max(TicketSla.cycle)).where(
            TicketSla.ticket_id == ticket_id, TicketSla.target == target
        )
    )
    return int(last or 0) + 1


async def _replied(
    session: AsyncSession, ticket: Ticket, policy: SlaPolicy, event: ReplyPosted, now: datetime
) -> None:
    if event.visibility is not Visibility.PUBLIC or event.actor is None:
        return
    cal = await _calendar(session, policy)
    rows = await _open_rows(session, ticket.id)
    if event.actor.role != Role.CUSTOMER.value:
        for row in rows:
            if row.target in (sla.SlaTarget.FIRST_RESPONSE, sla.SlaTarget.NEXT_RESPONSE):
                _write(row, sla.meet(_clock(row), cal, now), cal, policy.warning_minutes)
    else:
        waiting = any(
            r.target in (sla.SlaTarget.FIRST_RESPONSE, sla.SlaTarget.NEXT_RESPONSE) for r in rows
        )
        if policy.next_response_minutes is not None and not waiting:
            cycle = await _next_cycle(session, ticket.id, sla.SlaTarget.NEXT_RESPONSE)
            session.add(
                _new_row(
                    ticket,
                    policy,
                    sla.SlaTarget.NEXT_RESPONSE,
                    policy.next_response_minutes,
                    cycle,
                    now,
                    cal,
                )
            )
    await _refresh_due(session, ticket)


async def _status_changed(
    session: AsyncSession, ticket: Ticket, policy: SlaPolicy, event: StatusChanged, now: datetime
) -> None:
    cal = await _calendar(session, policy)
    rows = await _open_rows(session, ticket.id)
    to = event.to_status
    if to in sla.STOPPING:
        for row in rows:
            _write(row, sla.meet(_clock(row), cal, now), cal, policy.warning_minutes)
    elif event.from_status is TicketStatus.RESOLVED:
        # A reopened ticket gets a new resolution clock.
        if policy.resolution_minutes is not None and not any(
            r.target is sla.SlaTarget.RESOLUTION for r in rows
        ):
            cycle = await _next_cycle(session, ticket.id, sla.SlaTarget.RESOLUTION)
            session.add(
                _new_row(
                    ticket,
                    policy,
                    sla.SlaTarget.RESOLUTION,
                    policy.resolution_minutes,
                    cycle,
                    now,
                    cal,
                    paused=sla.pauses_resolution(to, policy.pause_statuses),
                )
            )
    else:
        paused = sla.pauses_resolution(to, policy.pause_statuses)
        for row in rows:
            if row.target is not sla.SlaTarget.RESOLUTION:
                continue
            clock = _clock(row)
            clock = sla.pause(clock, cal, now) if paused else sla.resume(clock, now)
            _write(row, clock, cal, policy.warning_minutes)
    await _refresh_due(session, ticket)


@timeline.subscribe
async def track(session: AsyncSession, event: DomainEvent) -> None:
    """Keep the ticket's SLA clocks in step with what happened to it."""
    if not isinstance(event, TicketOpened | ReplyPosted | StatusChanged):
        return
    ticket = await session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    now = utcnow()
    if isinstance(event, TicketOpened):
        await _opened(session, ticket, now)
        return
    policy = await _policy(session, ticket)
    if policy is None:
        return
    if isinstance(event, ReplyPosted):
        await _replied(session, ticket, policy, event, now)
    else:
        await _status_changed(session, ticket, policy, event, now)


# --- the worker's job -------------------------------------------------------------------------


async def raise_alarms(session: AsyncSession, settings: Settings, *, batch: int = 200) -> int:
    """Raise ``sla_warning`` and ``sla_breached`` for the targets whose alarm time has come."""
    return await raise_alarms_at(session, utcnow(), batch=batch)


async def raise_alarms_at(session: AsyncSession, now: datetime, *, batch: int = 200) -> int:
    """Each event is raised once per target and cycle, however many workers run.

    Rows are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL re-checks ``alarm_at`` on
    a row another worker just changed), and the mark is a conditional UPDATE
    (``... WHERE warned_at IS NULL``) whose row count decides who records the event:
    on SQLite, where there is no row lock, a second writer's stale claim changes nothing.
    """
    rows = (
        await session.execute(
            select(
                TicketSla.id,
                TicketSla.ticket_id,
                TicketSla.target,
                TicketSla.due_at,
                TicketSla.warned_at,
            )
            .where(TicketSla.alarm_at <= now)
            .order_by(TicketSla.alarm_at, TicketSla.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    # The mails need each ticket and its customer: one query for the batch, not two each
    # (kept referenced, so the session's identity map holds them).
    batch_tickets: list[Ticket] = []
    if rows:
        batch_tickets = list(
            await session.scalars(
                select(Ticket)
                .options(joinedload(Ticket.customer, innerjoin=True))
                .where(Ticket.id.in_({r.ticket_id for r in rows}))
            )
        )
    raised = 0
    for row_id, ticket_id, target, due_at, warned_at in rows:
        open_row = (
            TicketSla.id == row_id,
            TicketSla.met_at.is_(None),
            TicketSla.running_since.is_not(None),
        )
        event: SlaWarning | SlaBreached
        if due_at is not None and due_at <= now:
            stmt = (
                update(TicketSla)
                .where(*open_row, TicketSla.breached_at.is_(None))
                .values(breached_at=due_at, alarm_at=None)
            )
            event = SlaBreached(ticket_id=ticket_id, target=str(target), due_at=due_at)
        elif due_at is not None and warned_at is None:
            stmt = (
                update(TicketSla)
                .where(*open_row, TicketSla.warned_at.is_(None))
                .values(warned_at=now, alarm_at=due_at)
            )
            event = SlaWarning(ticket_id=ticket_id, target=str(target), due_at=due_at)
        else:
            await session.execute(
                update(TicketSla).where(TicketSla.id == row_id).values(alarm_at=due_at)
            )
            continue
        result = await session.execute(stmt.execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) == 1:
            await timeline.record(session, event)
            raised += 1
        else:
            await session.execute(
                update(TicketSla)
                .where(TicketSla.id == row_id, TicketSla.alarm_at <= now)
                .values(alarm_at=None)
                .execution_options(synchronize_session=False)
            )
    del batch_tickets
    return raised


# --- the mails of the events -------------------------------------------------------------------


def _settings(session: AsyncSession) -> Settings:
    settings = session.info.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


async def _recipient(
    session: AsyncSession, ticket: Ticket, customer: Customer
) -> tuple[str, Locale] | None:
    """The assignee (in their language), else the team's address, else the desk's."""
    if ticket.assignee_id is not None:
        user = await session.get(User, ticket.assignee_id)
        if user is not None and user.is_active:
            return user.email, Locale(user.locale)
    if ticket.team_id is not None:
        team = await session.get(Team, ticket.team_id)
        if team is not None and team.email:
            return team.email, Locale(customer.locale)
    desk = _settings(session).support_email
    return (desk, Locale(customer.locale)) if desk else None


@timeline.subscribe
async def mail_alarm(session: AsyncSession, event: DomainEvent) -> None:
    """A warning or a breach is mailed through the outbox, in the event's transaction."""
    if not isinstance(event, SlaWarning | SlaBreached):
        return
    ticket = await session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    customer = await session.get(Customer, ticket.customer_id)
    assert customer is not None
    to = await _recipient(session, ticket, customer)
    if to is None:
        return
    kind = (
        NotificationKind.SLA_WARNING
        if isinstance(event, SlaWarning)
        else NotificationKind.SLA_BREACHED
    )
    now = utcnow()
    session.add(
        Notification(
            ticket_id=ticket.id,
            kind=kind,
            recipient=to[0],
            locale=to[1],
            context={
                "number": ticket.number,
                "subject": ticket.subject,
                "status": ticket.status.value,
                "customer_code": customer.code,
                "customer_name": customer.name,
                "target": event.target,
                "due_at": event.due_at.isoformat(),
            },
            status=NotificationStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    await session.flush()
