"""Canned replies (macros): personal or shared, a body per language, optional actions.

Bodies are Jinja2 templates rendered in a ``SandboxedEnvironment`` (no attribute
but the listed ones, no Python reachable) from plain dictionaries. A body is
checked when saved: a syntax error, or a placeholder that is not one of
``domain/macros.py: PLACEHOLDERS``, is a 422 naming it. Applying a macro posts
the reply, then runs its actions, all in the request's one transaction: a
refused status move undoes the reply too.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Customer, Macro, Reply, Team, Ticket, User
from app.domain.access import Actor, Role, Scope, require_staff
from app.domain.errors import Forbidden, InvalidInput, NotFound
from app.domain.events import TeamAssigned, TicketAssigned, macro_note
from app.domain.macros import (
    FILTERS,
    MAX_RENDERED,
    PLACEHOLDERS,
    body_for,
    resolution_refusal,
)
from app.domain.tickets import TicketStatus, Visibility
from app.services import replies as reply_service
from app.services import tags as tag_service
from app.services import teams as team_service
from app.services import tickets as ticket_service
from app.services import timeline
from app.services.visibility import load_ticket

MAX_MACROS = 500
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_ALLOWED = (
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Getattr,
    nodes.Const,
    nodes.If,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.Filter,
    nodes.CondExpr,
)
"""The template nodes a body may hold: text, placeholders, filters and conditions (no loops,
calls, assignments, includes)."""


def check_body(locale: str, body: str) -> None:
    """422 for a body that does not parse or names an unknown placeholder."""
    _check_template(body, ["body", "bodies", locale])


def _check_template(body: str, loc: list[str]) -> None:
    try:
        tree = _ENV.parse(body)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"Template error on line {exc.lineno}: {exc.message}", loc) from None
    for any_node in tree.find_all(nodes.Node):
        if not isinstance(any_node, _ALLOWED):
            raise InvalidInput(
                f"Only placeholders and {{% if %}} are allowed, not {type(any_node).__name__}.",
                loc,
            )
        if isinstance(any_node, nodes.Filter) and any_node.name not in FILTERS:
            raise InvalidInput(
                f"The filter {any_node.name} is not allowed; use one of "
                f"{', '.join(sorted(FILTERS))}.",
                loc,
            )
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            allowed = PLACEHOLDERS.get(node.node.name)
            if allowed is None or node.attr not in allowed:
                raise InvalidInput(f"Unknown placeholder {node.node.name}.{node.attr}.", loc)
        elif isinstance(node, nodes.Getitem | nodes.Getattr):
            raise InvalidInput("Use placeholders as {{ object.field }}.", loc)
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in PLACEHOLDERS:
            raise InvalidInput(f"Unknown placeholder {node.name}.", loc)
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.Name):
                raise InvalidInput(
                    f"Use a field of {child.name}, e.g. {{{{ {child.name}.name }}}}.", loc
                )


def render(body: str, context: dict[str, Any]) -> str:
    """The body filled in; 422 when it cannot be, or when it is longer than a reply may be.

    The body is checked again first: one saved before a rule was added must not run."""
    _check_template(body, ["path", "macro_id"])
    try:
        text = _ENV.from_string(body).render(context)
    except (UndefinedError, SecurityError):
        raise InvalidInput("The macro's body cannot be rendered.", ["body"]) from None
    if len(text) > MAX_RENDERED:
        raise InvalidInput(
            f"The macro's body renders longer than {MAX_RENDERED} characters for this ticket.",
            ["path", "macro_id"],
        )
    return text


def _visible(actor: Actor) -> Any:
    return or_(Macro.owner_id.is_(None), Macro.owner_id == actor.user_id)


async def list_macros(session: AsyncSession, actor: Actor) -> list[Macro]:
    """The caller's personal macros and the shared ones, by title."""
    require_staff(actor, Scope.TICKETS_READ)
    return list(
        (
            await session.scalars(
                select(Macro)
                .where(_visible(actor))
                .order_by(Macro.title, Macro.id)
                .limit(2 * MAX_MACROS)
            )
        ).all()
    )


async def get(session: AsyncSession, actor: Actor, macro_id: int) -> Macro:
    require_staff(actor, Scope.TICKETS_READ)
    macro = await session.scalar(select(Macro).where(Macro.id == macro_id, _visible(actor)))
    if macro is None:
        raise NotFound("No such macro.")
    return macro


def _may_edit(actor: Actor, macro: Macro) -> None:
    if macro.owner_id is None and actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators change shared macros.")


async def _check(session: AsyncSession, fields: dict[str, Any]) -> None:
    for locale, body in (fields.get("bodies") or {}).items():
        check_body(locale, body)
    if fields.get("team_id") is not None and await session.get(Team, fields["team_id"]) is None:
        raise InvalidInput("No such team.", ["body", "team_id"])


async def create(
    session: AsyncSession, actor: Actor, fields: dict[str, Any], shared: bool
) -> Macro:
    """A personal macro (any staff user), or a shared one (administrators)."""
    require_staff(actor, Scope.TICKETS_WRITE)
    if actor.user_id is None:
        raise Forbidden("API keys have no macros.")
    if shared and actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators create shared macros.")
    await _check(session, fields)
    owner = None if shared else actor.user_id
    existing = await session.scalar(
        select(func.count())
        .select_from(Macro)
        .where(Macro.owner_id.is_(None) if owner is None else Macro.owner_id == owner)
    )
    if (existing or 0) >= MAX_MACROS:
        raise InvalidInput(f"At most {MAX_MACROS} macros per owner.", ["body"])
    macro = Macro(owner_id=None if shared else actor.user_id, **fields)
    session.add(macro)
    await session.flush()
    return macro


async def update(
    session: AsyncSession, actor: Actor, macro_id: int, changes: dict[str, Any]
) -> Macro:
    macro = await get(session, actor, macro_id)
    _may_edit(actor, macro)
    await _check(session, changes)
    for name, value in changes.items():
        setattr(macro, name, value)
    await session.flush()
    return macro


async def delete(session: AsyncSession, actor: Actor, macro_id: int) -> None:
    macro = await get(session, actor, macro_id)
    _may_edit(actor, macro)
    await session.delete(macro)
    await session.flush()


async def _context(
    session: AsyncSession, actor: Actor, ticket: Ticket
) -> tuple[dict[str, Any], str]:
    customer = await session.get(Customer, ticket.customer_id)
    assert customer is not None
    agent: dict[str, Any] = {"name": actor.name, "email": None}
    if actor.user_id is not None:
        user = await session.get(User, actor.user_id)
        if user is not None:
            agent["email"] = user.email
    context = {
        "customer": {"name": customer.name, "code": customer.code},
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.status.value,
            "type": ticket.type.value,
            "severity": ticket.severity.value,
        },
        "agent": agent,
        "contact": {
            "name": ticket.contact_name,
            "email": ticket.contact_email,
            "phone": ticket.contact_phone,
        },
    }
    return context, customer.locale.value


async def apply(
    session: AsyncSession, actor: Actor, ticket_id: int, macro_id: int
) -> tuple[Reply, Ticket]:
    """Post the macro's body (in the ticket's language) and run its actions, in one transaction.

    Order: the reply, the tags, the team, then the status (a macro that resolves the
    ticket answers first, so the answer is the solution's context).
    """
    require_staff(actor, Scope.TICKETS_WRITE)
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    macro = await get(session, actor, macro_id)
    context, locale = await _context(session, actor, ticket)
    template = body_for(macro.bodies, locale)
    if template is None:
        raise InvalidInput("The macro has no body.", ["path", "macro_id"])
    text = render(template, context).strip()
    if not text:
        raise InvalidInput("The macro's body renders empty for this ticket.", ["path", "macro_id"])
    reply, ticket = await reply_service.post_reply(
        session, actor, ticket.id, body=text, visibility=Visibility(macro.visibility)
    )
    if macro.add_tags:
        await tag_service.add_to(session, actor, ticket, list(macro.add_tags))
    if macro.team_id is not None and macro.team_id != ticket.team_id:
        ticket.team_id = macro.team_id
        cleared = ticket.assignee_id is not None and not await team_service.is_member(
            session, macro.team_id, ticket.assignee_id
        )
        if cleared:
            ticket.assignee_id = None
        await session.flush()
        await timeline.record(
            session,
            TeamAssigned(
                ticket_id=ticket.id,
                team_id=macro.team_id,
                actor=timeline.event_actor(actor),
                note=macro_note(macro.title),
            ),
        )
        if cleared:
            await timeline.record(
                session,
                TicketAssigned(
                    ticket_id=ticket.id, assignee_id=None, actor=timeline.event_actor(actor)
                ),
            )
    if macro.set_status is not None and TicketStatus(macro.set_status) is not ticket.status:
        to = TicketStatus(macro.set_status)
        refusal = resolution_refusal(to, Visibility(macro.visibility))
        if refusal is not None:
            # Raised here, the note and the actions before it roll back too.
            raise InvalidInput(refusal, ["path", "macro_id"])
        # The note names the macro for staff; customers are not shown it (events.customer_note).
        ticket = await ticket_service.change_status(
            session,
            actor,
            ticket.id,
            to=to,
            solution=text if to is TicketStatus.RESOLVED else None,
            note=macro_note(macro.title),
        )
    return reply, ticket
