"""Webhooks: ticket events become deliveries (the outbox); admins manage hooks and deliveries.

``queue_deliveries`` listens to every ticket event (``services/timeline.py``) inside the
transaction of the change, and writes one delivery per hook that wants it, in that same
transaction: a change and its webhooks are committed together or not at all. Which kind an
event is, and whether it is internal, is read from the timeline row the event became, so a
kind another capability adds to the timeline reaches webhooks with no change here. The
payload is snapshotted now: the event, and the ticket as the API shows it to staff.
``infra/webhooks.py`` sends them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.base import utcnow
from app.db.models import Customer, Reply, Team, Ticket, TicketEvent, Webhook, WebhookDelivery
from app.db.pagination import decode_id_cursor, encode_cursor, page_by_id
from app.domain.access import Actor, require_admin
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.events import DomainEvent
from app.domain.webhooks import (
    DeliveryStatus,
    EventFacts,
    HookFilter,
    Reach,
    check_kinds,
    check_url,
    new_secret,
    wants,
)
from app.services import probes, sla_admin, timeline
from app.services import tags as tag_service
from app.services.tickets import rows

_HOOKS = "sportello.webhooks"
"""``session.info`` key: the enabled hooks, read once per transaction."""


def _filter(hook: Webhook) -> HookFilter:
    return HookFilter(
        kinds=tuple(hook.kinds),
        include_internal=hook.include_internal,
        ticket_type=hook.ticket_type,
        customer_id=hook.customer_id,
        team_id=hook.team_id,
    )


async def _enabled_hooks(session: AsyncSession) -> list[tuple[int, HookFilter]]:
    cached: list[tuple[int, HookFilter]] | None = session.info.get(_HOOKS)
    if cached is None and probes.none(session, "hooks"):
        return []  # the change's own statement found no enabled hook: nothing to read
    if cached is None:
        hooks = (await session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))).all()
        cached = [(h.id, _filter(h)) for h in hooks]
        session.info[_HOOKS] = cached
    return cached


_NEW_EVENTS = "sportello.new_ticket_events"
"""``session.info`` key: the timeline rows added since the last event was handled here."""


@sa_event.listens_for(Session, "transient_to_pending")
def _keep_new_event(session: Session, instance: object) -> None:
    """Hold on to each timeline row added: ``timeline.record`` adds it and keeps no reference,
    and once flushed (by another subscriber) the session would hold it only weakly."""
    if isinstance(instance, TicketEvent):
        session.info.setdefault(_NEW_EVENTS, []).append(instance)


def _latest_event(session: AsyncSession, ticket_id: int) -> TicketEvent | None:
    """The timeline row just written for this event (``timeline.record`` adds it before it
    calls the subscribers): the newest row of this ticket added since the last event."""
    added: list[TicketEvent] = session.info.pop(_NEW_EVENTS, [])
    rows = [r for r in added if r.ticket_id == ticket_id]
    return rows[-1] if rows else None


def event_document(row: TicketEvent) -> dict[str, Any]:
    """An event as ``GET /tickets/{id}/events`` shows it, with its ticket's id."""
    actor = None
    if row.actor_name is not None:
        actor = {"id": row.actor_id, "name": row.actor_name, "role": row.actor_role or ""}
    return {
        "id": row.id,
        "ticket_id": row.ticket_id,
        "kind": row.kind,
        "internal": row.internal,
        "from": row.from_status,
        "to": row.to_status,
        "actor": actor,
        "note": row.note,
        "reply_id": row.reply_id,
        "assignee_id": row.assignee_id,
        "attachment_id": row.attachment_id,
        "created_at": _instant(row.created_at),
    }


def _instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


async def ticket_document(
    session: AsyncSession, ticket: Ticket, customer_code: str
) -> dict[str, Any]:
    """A ticket as ``GET /tickets/{id}`` shows it to staff (``TicketDetail``'s fields but
    ``allowed_transitions`` and ``attachments``, which are the caller's and the files').

    The list-row facts (names, areas, reply count, last activity: the portal's rows), the
    channel, the team and SLA fields (issue 13) are all there; ``unread`` is always false,
    as for API keys: a hook is nobody's reader. Category names are the base names.
    """
    names = (
        await session.execute(
            select(rows.Requester.name, rows.Assignee.name, rows.Area, rows.ParentArea)
            .select_from(Ticket)
            .outerjoin(rows.Requester, rows.Requester.id == Ticket.requester_id)
            .outerjoin(rows.Assignee, rows.Assignee.id == Ticket.assignee_id)
            .outerjoin(rows.Area, rows.Area.id == Ticket.category_id)
            .outerjoin(rows.ParentArea, rows.ParentArea.id == rows.Area.parent_id)
            .where(Ticket.id == ticket.id)
        )
    ).one()
    requester_name, assignee_name, area, sub = names[0], names[1], names[2], None
    if names[3] is not None:
        area, sub = names[3], names[2]
    activity = None
    if ticket.last_public_at is not None:
        who = None
        if ticket.last_public_actor_name is not None and ticket.last_public_actor_id is not None:
            who = {"id": ticket.last_public_actor_id, "name": ticket.last_public_actor_name}
        activity = {"at": _instant(ticket.last_public_at), "actor": who}
    policy, clocks = await sla_admin.ticket_clocks(session, ticket)
    sla = None
    if policy is not None or clocks:
        sla = {
            "policy_id": ticket.sla_policy_id,
            "policy_name": policy.name if policy is not None else None,
            "next_due_at": _instant(ticket.sla_due_at),
            "targets": [
                {
                    "target": c.target.value,
                    "cycle": c.cycle,
                    "target_minutes": c.target_minutes,
                    "started_at": _instant(c.started_at),
                    "due_at": _instant(c.due_at),
                    "breached_at": _instant(c.breached_at),
                    "met_at": _instant(c.met_at),
                    "paused": c.met_at is None and c.running_since is None,
                    "used_minutes": round(c.used_minutes, 2),
                }
                for c in clocks
            ],
        }
    return {
        "id": ticket.id,
        "number": ticket.number,
        "customer_id": ticket.customer_id,
        "customer_code": customer_code,
        "requester_id": ticket.requester_id,
        "type": ticket.type.value,
        "category_id": ticket.category_id,
        "order_id": ticket.order_id,
        "subject": ticket.subject,
        "description": ticket.description,
        "severity": ticket.severity.value,
        "status": ticket.status.value,
        "assignee_id": ticket.assignee_id,
        "solution": ticket.solution,
        "parent_id": ticket.parent_id,
        "contact": {
            "name": ticket.contact_name,
            "phone": ticket.contact_phone,
            "email": ticket.contact_email,
            "preferred_channel": ticket.contact_channel.value,
        },
        "channel": ticket.channel.value,
        "created_at": _instant(ticket.created_at),
        "updated_at": _instant(ticket.updated_at),
        "resolved_at": _instant(ticket.resolved_at),
        "closed_at": _instant(ticket.closed_at),
        "team_id": ticket.team_id,
        "sla_policy_id": ticket.sla_policy_id,
        "sla_due_at": _instant(ticket.sla_due_at),
        "requester": _person(ticket.requester_id, requester_name),
        "assignee": _person(ticket.assignee_id, assignee_name),
        "category": {"id": area.id, "name": area.name} if area is not None else None,
        "sub_category": {"id": sub.id, "name": sub.name} if sub is not None else None,
        "reply_count": ticket.public_reply_count,
        "last_activity": activity,
        "unread": False,
        "tags": await tag_service.tags_of(session, ticket.id),
        "sla": sla,
    }


def _person(user_id: int | None, name: str | None) -> dict[str, Any] | None:
    if user_id is None or name is None:
        return None
    return {"id": user_id, "name": name}


def reply_document(reply: Reply) -> dict[str, Any]:
    """A reply as ``GET /tickets/{id}/replies`` shows it (without its files)."""
    return {
        "id": reply.id,
        "ticket_id": reply.ticket_id,
        "author_id": reply.author_id,
        "author_name": reply.author_name,
        "author_role": reply.author_role,
        "body": reply.body,
        "visibility": reply.visibility.value,
        "created_at": _instant(reply.created_at),
    }


@timeline.subscribe
async def queue_deliveries(session: AsyncSession, event: DomainEvent) -> None:
    """One delivery per enabled hook that wants this event; nothing at all without hooks."""
    hooks = await _enabled_hooks(session)
    if not hooks:
        session.info.pop(_NEW_EVENTS, None)
        return
    await session.flush()
    row = _latest_event(session, event.ticket_id)
    ticket = await session.get(Ticket, event.ticket_id)
    if row is None or ticket is None:
        return
    facts = EventFacts(
        kind=row.kind,
        internal=row.internal,
        ticket_type=ticket.type.value,
        customer_id=ticket.customer_id,
        team_id=ticket.team_id,
    )
    targets = [hook_id for hook_id, hook in hooks if wants(hook, facts)]
    if not targets:
        return
    customer = await session.get(Customer, ticket.customer_id)
    assert customer is not None
    now = utcnow()
    data: dict[str, Any] = {
        "event": event_document(row),
        "ticket": await ticket_document(session, ticket, customer.code),
    }
    if row.reply_id is not None:
        reply = await session.get(Reply, row.reply_id)
        if reply is not None:
            data["reply"] = reply_document(reply)
    payload = json.dumps(
        {"type": f"ticket.{row.kind}", "timestamp": _instant(row.created_at), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    for hook_id in targets:
        session.add(
            WebhookDelivery(
                webhook_id=hook_id,
                ticket_id=ticket.id,
                event_id=row.id,
                kind=row.kind,
                payload=payload,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    await session.flush()


# --- the admins' side ----------------------------------------------------------------------


@dataclass
class HookFields:
    url: str | None = None
    description: str | None = None
    kinds: list[str] | None = None
    include_internal: bool | None = None
    ticket_type: str | None = None
    customer_id: int | None = None
    team_id: int | None = None
    enabled: bool | None = None


def reach_of(settings: Settings) -> Reach:
    """Where the settings let hooks call (judged again, after DNS, when sending)."""
    return Reach(
        allow_loopback=settings.webhook_allow_loopback,
        allow_private=settings.webhook_allow_private,
    )


def _checked_url(url: str, reach: Reach) -> str:
    try:
        check_url(url, reach)
    except ValueError as exc:
        raise InvalidInput(f"The URL is refused: {exc}.", ["body", "url"]) from None
    return url


def _checked_kinds(kinds: list[str]) -> list[str]:
    try:
        return check_kinds(kinds)
    except ValueError as exc:
        raise InvalidInput(f"{exc}.", ["body", "kinds"]) from None


async def _check_customer(session: AsyncSession, customer_id: int | None) -> None:
    if customer_id is not None and await session.get(Customer, customer_id) is None:
        raise InvalidInput("No such customer.", ["body", "customer_id"])


async def _check_team(session: AsyncSession, team_id: int | None) -> None:
    if team_id is not None and await session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", ["body", "team_id"])


async def create(session: AsyncSession, actor: Actor, fields: HookFields, reach: Reach) -> Webhook:
    """A new hook, enabled, with a fresh secret (shown to the caller once, in the answer)."""
    require_admin(actor)
    assert fields.url is not None and fields.kinds is not None
    await _check_customer(session, fields.customer_id)
    await _check_team(session, fields.team_id)
    now = utcnow()
    hook = Webhook(
        url=_checked_url(fields.url, reach),
        description=fields.description,
        kinds=_checked_kinds(fields.kinds),
        include_internal=bool(fields.include_internal),
        ticket_type=fields.ticket_type,
        customer_id=fields.customer_id,
        team_id=fields.team_id,
        secret=new_secret(),
        enabled=True if fields.enabled is None else fields.enabled,
        failure_count=0,
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(hook)
    await session.flush()
    return hook


async def get(
    session: AsyncSession, actor: Actor, webhook_id: int, *, lock: bool = False
) -> Webhook:
    require_admin(actor)
    stmt = select(Webhook).where(Webhook.id == webhook_id)
    if lock:
        stmt = stmt.with_for_update()
    hook = await session.scalar(stmt)
    if hook is None:
        raise NotFound("No such webhook.")
    return hook


async def list_page(
    session: AsyncSession, actor: Actor, *, limit: int, cursor: str | None
) -> tuple[list[Webhook], str | None]:
    require_admin(actor)
    return await page_by_id(session, select(Webhook), Webhook.id, limit=limit, cursor=cursor)


async def update(
    session: AsyncSession,
    actor: Actor,
    webhook_id: int,
    changes: dict[str, Any],
    reach: Reach,
) -> Webhook:
    """Change what was given. Enabling a disabled hook clears its failures: its waiting
    deliveries go out again, in order."""
    hook = await get(session, actor, webhook_id, lock=True)
    for required in ("url", "kinds", "include_internal", "enabled"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null.", ["body", required])
    if "url" in changes:
        hook.url = _checked_url(changes["url"], reach)
    if "kinds" in changes:
        hook.kinds = _checked_kinds(changes["kinds"])
    if "customer_id" in changes:
        await _check_customer(session, changes["customer_id"])
        hook.customer_id = changes["customer_id"]
    if "team_id" in changes:
        await _check_team(session, changes["team_id"])
        hook.team_id = changes["team_id"]
    for name in ("description", "include_internal", "ticket_type"):
        if name in changes:
            setattr(hook, name, changes[name])
    if changes.get("enabled") is True and not hook.enabled:
        hook.enabled = True
        hook.disabled_reason = None
        hook.failure_count = 0
    elif changes.get("enabled") is False and hook.enabled:
        hook.enabled = False
        hook.disabled_reason = "disabled by an administrator"
    hook.updated_at = utcnow()
    await session.flush()
    return hook


async def delete(session: AsyncSession, actor: Actor, webhook_id: int) -> None:
    hook = await get(session, actor, webhook_id, lock=True)
    await session.delete(hook)
    await session.flush()


async def rotate_secret(
    session: AsyncSession, actor: Actor, webhook_id: int, overlap: timedelta
) -> Webhook:
    """A new secret signs from now on; the old one signs too until the overlap ends, so a
    receiver can switch to the new one without missing a delivery."""
    hook = await get(session, actor, webhook_id, lock=True)
    now = utcnow()
    if overlap > timedelta(0):
        hook.previous_secret = hook.secret
        hook.previous_secret_expires_at = now + overlap
    else:
        hook.previous_secret = None
        hook.previous_secret_expires_at = None
    hook.secret = new_secret()
    hook.updated_at = now
    await session.flush()
    return hook


async def deliveries(
    session: AsyncSession,
    actor: Actor,
    webhook_id: int,
    *,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[WebhookDelivery], str | None]:
    """A hook's deliveries, newest first, in keyset pages."""
    await get(session, actor, webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if cursor is not None:
        stmt = stmt.where(WebhookDelivery.id < decode_id_cursor(cursor))
    rows = list(
        (await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit + 1))).all()
    )
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor([rows[-1].id])
    return rows, None


async def redeliver(
    session: AsyncSession, actor: Actor, webhook_id: int, delivery_id: int
) -> WebhookDelivery:
    """Send a delivered or failed delivery again, due now, with a fresh budget of attempts
    (the same ``webhook-id`` and body: receivers recognise it). 409 while it is still on its
    way."""
    await get(session, actor, webhook_id)
    row = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("No such delivery.")
    if row.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
        raise Conflict(f"This delivery is still {row.status.value}.")
    row.status = DeliveryStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    await session.flush()
    return row
