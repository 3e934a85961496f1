"""The list's items are written from Core rows, not validated models: the bytes must be the
models' bytes. Pinned two ways: against the ORM-built page (the tickets loaded as ORM
objects, ``TicketItem.build`` and ``staff_view``, as the list did before), and against
pydantic re-reading and re-writing the list's answer over HTTP."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from app.api.schemas.common import Page
from app.api.schemas.ticket_items import page_body
from app.api.schemas.tickets import TicketItem, staff_view
from app.domain.access import Actor, Role, Scope
from app.domain.tickets import Severity, TicketStatus, TicketType
from app.services import tickets as ticket_service
from app.services.tickets.rows import to_row, with_row_columns
from app.services.tickets.sorting import ordering
from tests.conftest import Database
from tests.factories import Desk

TRICKY = 'Fattura "n° 12/2026" \\ <script>\u2028 ñ 日本 😀\ttab'


def _world(desk: Desk) -> dict[str, Any]:
    customer = desk.customer()
    other = desk.customer()
    agent, agent_row = desk.user("agent", name="Anna Verdi")
    client, client_row = desk.user("customer", customer_id=customer["id"], name="Mario Rossi")
    _, other_row = desk.user("customer", customer_id=other["id"], name="Pedro Gómez")
    area = desk.category(name="Fatturazione")
    sub = desk.category(name="Firma digitale", parent=area)
    plain = desk.category(name="Magazzino")
    desk.db.execute(
        "UPDATE category SET name_it = 'Fatture', name_es = '' WHERE id = :id", id=area["id"]
    )
    desk.db.execute(
        "UPDATE category SET name_en = 'Digital signature' WHERE id = :id", id=sub["id"]
    )
    tickets = [
        desk.ticket(client, customer, category_id=sub["id"], subject=TRICKY),
        desk.ticket(
            client,
            customer,
            category_id=area["id"],
            description='Riga uno\nriga due\r\n"citata"',
            contact={
                "name": "Mario",
                "phone": "+39 02 123",
                "email": "m@example.com",
                "preferred_channel": "phone",
            },
        ),
        desk.ticket(client, customer, category_id=plain["id"], severity="blocking"),
        desk.ticket(client, customer),
    ]
    desk.ticket(desk.customer_user(other), other)  # another customer's: never in client's list
    desk.move(agent, tickets[0], "in_progress")
    desk.reply(agent, tickets[0], "Controllo il certificato.")
    client.get(f"/tickets/{tickets[0]['id']}")  # read: the marker is set
    desk.reply(agent, tickets[0], "Fatto?")  # unread again, read_at older than the activity
    desk.reply(client, tickets[1], "Aggiungo un dettaglio.")  # the customer's own activity
    desk.move(agent, tickets[2], "resolved")
    # An automatic move: public activity with no one named; whole seconds; an SLA due time.
    desk.db.execute(
        "UPDATE ticket SET last_public_at = :at, last_public_actor_id = NULL,"
        " last_public_actor_name = NULL, created_at = :at, sla_due_at = :at WHERE id = :id",
        at=desk.db_time(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        id=tickets[3]["id"],
    )
    return {
        "customer": customer,
        "area": area,
        "other": other,
        "agent": Actor(role=Role.AGENT, user_id=agent_row["id"], customer_id=None, name="Anna"),
        "client": Actor(
            role=Role.CUSTOMER, user_id=client_row["id"], customer_id=customer["id"], name="Mario"
        ),
        "other_client": Actor(
            role=Role.CUSTOMER, user_id=other_row["id"], customer_id=other["id"], name="Pedro"
        ),
        "key": Actor(
            role=Role.AGENT,
            user_id=None,
            customer_id=None,
            name="key",
            scopes=frozenset({Scope.TICKETS_READ}),
            api_key_id=1,
        ),
        "http_agent": agent,
        "http_client": client,
    }


def _both(
    db: Database, actor: Actor, lang: str, filters: ticket_service.Filters, sort: str, limit: int
) -> tuple[bytes, bytes]:
    """The page written from Core rows, and the same page built from ORM objects."""

    async def go() -> tuple[bytes, bytes]:
        async with db.sessions() as session:
            items, cursor = await ticket_service.list_page(
                session, actor, filters, sort=ticket_service.Sort(sort), limit=limit, cursor=None
            )
            new = page_body(items, cursor, actor, lang)
            stmt = with_row_columns(ticket_service.filtered(actor, db.dialect, filters), actor)
            stmt = stmt.order_by(*ordering(ticket_service.Sort(sort))).limit(limit)
            rows = [to_row(r, actor) for r in (await session.execute(stmt)).all()]
            old: Page[TicketItem] = Page(
                items=[
                    staff_view(
                        TicketItem.build(r, ticket_service.allowed_for(r.ticket, actor), lang),
                        actor,
                    )
                    for r in rows
                ],
                next_cursor=cursor,
            )
            return new, old.model_dump_json(by_alias=True).encode()

    return db.run(go())


def test_list_items_are_the_bytes_the_models_write(desk: Desk, db: Database) -> None:
    world = _world(desk)
    cases = 0
    for who in ("agent", "client", "other_client", "key"):
        for lang in ("it", "es", "en"):
            for filters in (
                ticket_service.Filters(),
                ticket_service.Filters(status=[TicketStatus.OPEN]),
                ticket_service.Filters(severity=Severity.NORMAL),
                ticket_service.Filters(customer_id=world["customer"]["id"]),
                ticket_service.Filters(category_id=world["area"]["id"], type=TicketType.TECHNICAL),
                # (API keys have no read markers: 400)
                *([ticket_service.Filters(unread=True)] if who != "key" else []),
            ):
                for sort in ("-created_at", "updated_at"):
                    for limit in (2, 25):
                        new, old = _both(db, world[who], lang, filters, sort, limit)
                        assert new == old, (who, lang, filters, sort, limit)
                        cases += 1
    assert cases == (3 * 6 + 5) * 3 * 2 * 2
    # What the cases cover: the escapes, the languages' fallbacks, unread both ways, no actor.
    agent_page, _ = _both(db, world["agent"], "es", ticket_service.Filters(), "-created_at", 25)
    assert "日本 😀".encode() in agent_page  # written raw, as pydantic writes it
    assert b'"name":"Fatturazione"' in agent_page  # name_es is '': the base name
    client_page, _ = _both(db, world["client"], "en", ticket_service.Filters(), "-created_at", 25)
    assert b'"unread":true' in client_page and b'"unread":false' in client_page
    assert b'"Digital signature"' in client_page
    assert b'"sla_due_at":"2026-03-01T12:00:00Z"' in agent_page
    assert b'"sla_due_at":"2026' not in client_page  # staff only


def test_the_list_answer_reads_back_as_the_model(desk: Desk) -> None:
    world = _world(desk)
    for caller in (world["http_agent"], world["http_client"]):
        for params in ({}, {"status": "open"}, {"severity": "normal", "limit": 2}):
            r = caller.get("/tickets", params=params)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/json"
            again = Page[TicketItem].model_validate_json(r.content)
            assert again.model_dump_json(by_alias=True).encode() == r.content
            tag = f'W/"{hashlib.sha256(r.content).hexdigest()[:32]}"'
            assert r.headers["ETag"] == tag
            assert (
                caller.get("/tickets", params=params, headers={"If-None-Match": tag}).status_code
                == 304
            )
