"""Routing rules (admin CRUD) and their application to a new ticket, in its creating transaction.

The rules are a table (ordered; first match wins); matching and the choice of an
assignee are pure (``domain/routing.py``). The subscriber runs on ``TicketOpened``
inside the opening's transaction (and savepoint): a ticket is never seen without
its team. The team row is locked while a member is chosen, so concurrent openings
take turns on a round robin instead of all picking the same agent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import RoutingRule, Tag, Team, TeamMember, Ticket, TicketTag, User
from app.domain import routing
from app.domain.access import Actor, Role, require_admin
from app.domain.errors import InvalidInput, NotFound
from app.domain.events import (
    DomainEvent,
    TeamAssigned,
    TicketAssigned,
    TicketOpened,
    routing_note,
)
from app.domain.tickets import TicketStatus
from app.services import probes, timeline
from app.services import teams as team_service

MAX_RULES = 500
DONE = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


async def list_rules(session: AsyncSession, actor: Actor) -> list[RoutingRule]:
    require_admin(actor)
    return list(
        (
            await session.scalars(
                select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id).limit(MAX_RULES)
            )
        ).all()
    )


async def get_rule(session: AsyncSession, actor: Actor, rule_id: int) -> RoutingRule:
    require_admin(actor)
    rule = await session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound("No such routing rule.")
    return rule


async def _check_team(session: AsyncSession, team_id: int) -> None:
    if await session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", ["body", "team_id"])


async def create_rule(session: AsyncSession, actor: Actor, fields: dict[str, Any]) -> RoutingRule:
    require_admin(actor)
    await _check_team(session, fields["team_id"])
    count = await session.scalar(select(func.count()).select_from(RoutingRule))
    if (count or 0) >= MAX_RULES:
        raise InvalidInput(f"At most {MAX_RULES} routing rules.", ["body"])
    rule = RoutingRule(**fields)
    session.add(rule)
    await session.flush()
    return rule


async def update_rule(
    session: AsyncSession, actor: Actor, rule_id: int, changes: dict[str, Any]
) -> RoutingRule:
    rule = await get_rule(session, actor, rule_id)
    if "team_id" in changes:
        await _check_team(session, changes["team_id"])
    for name, value in changes.items():
        setattr(rule, name, value)
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, actor: Actor, rule_id: int) -> None:
    rule = await get_rule(session, actor, rule_id)
    await session.delete(rule)
    await session.flush()


async def _candidates(
    session: AsyncSession, team_id: int
) -> list[tuple[TeamMember, routing.Candidate]]:
    rows = (
        await session.execute(
            select(TeamMember, User.is_active, User.role)
            .join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id == team_id)
        )
    ).all()
    ids = [m.user_id for m, _, _ in rows]
    open_counts = (
        dict(
            (
                await session.execute(
                    select(Ticket.assignee_id, func.count())
                    .where(Ticket.assignee_id.in_(ids), Ticket.status.not_in(DONE))
                    .group_by(Ticket.assignee_id)
                )
            ).all()
        )
        if ids
        else {}
    )
    return [
        (
            m,
            routing.Candidate(
                user_id=m.user_id,
                away=m.away,
                active=bool(active) and role is not Role.CUSTOMER,
                last_assigned_at=m.last_assigned_at,
                open_tickets=int(open_counts.get(m.user_id, 0)),
            ),
        )
        for m, active, role in rows
    ]


async def route(session: AsyncSession, ticket: Ticket, channel: str) -> None:
    """Apply the first matching rule to a new ticket: its team, and maybe an assignee."""
    if probes.none(session, "routing"):
        return  # the opening's own statement found no active rule
    rules = (
        await session.execute(
            select(RoutingRule.id, RoutingRule.conditions)
            .where(RoutingRule.active.is_(True))
            .order_by(RoutingRule.position, RoutingRule.id)
            .limit(MAX_RULES)
        )
    ).all()
    if not rules:
        return
    tags = frozenset(
        (
            await session.scalars(
                select(Tag.name)
                .join(TicketTag, TicketTag.tag_id == Tag.id)
                .where(TicketTag.ticket_id == ticket.id)
            )
        ).all()
    )
    facts = routing.TicketFacts(
        type=ticket.type.value,
        category_id=ticket.category_id,
        severity=ticket.severity.value,
        customer_id=ticket.customer_id,
        channel=channel,
        tags=tags,
    )
    chosen = routing.first_rule([(r.id, r.conditions) for r in rules], facts)
    if chosen is None:
        return
    rule = await session.get(RoutingRule, chosen)
    assert rule is not None
    # Serialises the choice of a member between concurrent openings (PostgreSQL).
    await session.execute(select(Team.id).where(Team.id == rule.team_id).with_for_update())
    note = routing_note(rule.name)
    ticket.team_id = rule.team_id
    assignee = None
    if rule.assignment is not routing.Assignment.NONE:
        candidates = await _candidates(session, rule.team_id)
        assignee = routing.pick_assignee(rule.assignment, [c for _, c in candidates])
        if assignee is not None:
            ticket.assignee_id = assignee
            team_service.touch(next(m for m, c in candidates if c.user_id == assignee))
    await session.flush()
    await timeline.record(
        session, TeamAssigned(ticket_id=ticket.id, team_id=rule.team_id, actor=None, note=note)
    )
    if assignee is not None:
        # No note: the assignment is a public event (customers see who took their ticket),
        # and a rule's name is the desk's own business, given on the internal event above.
        await timeline.record(
            session, TicketAssigned(ticket_id=ticket.id, assignee_id=assignee, actor=None)
        )


@timeline.subscribe
async def route_new_ticket(session: AsyncSession, event: DomainEvent) -> None:
    if not isinstance(event, TicketOpened):
        return
    ticket = await session.get(Ticket, event.ticket_id)
    if ticket is not None:
        await route(session, ticket, event.channel)
