"""The embeddings of articles and solved tickets: marked on write, computed by the worker job."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence

import pytest
from sqlalchemy import text

from app.services import embeddings as embedding_service
from tests.api.test_kb_semantic import MODEL, embed_everything, needs_model
from tests.conftest import Database
from tests.factories import Desk


def rows(db: Database) -> list[tuple[int | None, int | None, int | None, str, bool]]:
    async def go() -> list[tuple[int | None, int | None, int | None, str, bool]]:
        async with db.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT kb_article_id, ticket_id, customer_id, model, vector IS NOT NULL"
                    " FROM embedding ORDER BY id"
                )
            )
            return [(a, t, c, m, bool(v)) for a, t, c, m, v in result.all()]

    return db.run(go())


def test_writes_mark_what_the_worker_must_embed(desk: Desk, db: Database) -> None:
    agent = desk.agent()
    customer = desk.customer()
    r = agent.post(
        "/kb/articles", json={"title": "Pec", "body": "Configurare la PEC", "locale": "it"}
    )
    assert r.status_code == 201, r.text
    article = r.json()["id"]
    r = agent.post(
        "/tickets",
        json={
            "customer_code": customer["code"],
            "type": "technical",
            "subject": "La PEC non riceve",
            "description": "Da ieri nessun messaggio.",
        },
    )
    assert r.status_code == 201, r.text
    ticket = r.json()["id"]
    # An open ticket answers nobody: only the article waits.
    assert rows(db) == [(article, None, None, "", False)]
    r = agent.post(
        f"/tickets/{ticket}/status", json={"status": "resolved", "solution": "Casella piena."}
    )
    assert r.status_code == 200, r.text
    assert rows(db)[1] == (None, ticket, customer["id"], "", False)
    if MODEL is None:
        return
    assert embed_everything(db) == 2
    assert rows(db) == [
        (article, None, None, MODEL.name, True),
        (None, ticket, customer["id"], MODEL.name, True),
    ]
    # An edit makes the vector stale; the next run computes it again.
    r = agent.patch(f"/kb/articles/{article}", json={"body": "Configurare la PEC su Outlook"})
    assert r.status_code == 200, r.text
    assert (article, None, None, MODEL.name, False) in rows(db)
    assert embed_everything(db) == 1
    # A deleted article takes its embedding with it.
    assert agent.delete(f"/kb/articles/{article}").status_code == 204
    assert [r[0] for r in rows(db)] == [None]


@needs_model
def test_an_answer_in_another_language_is_found_once_embedded(desk: Desk, db: Database) -> None:
    embedding_service.forget()
    agent = desk.agent()
    r = agent.post(
        "/kb/articles",
        json={
            "title": "Pago rechazado: cambiar la tarjeta de crédito",
            "body": "Si el cobro de una renovación falla, el pedido queda pendiente de pago. "
            "Añade una nueva tarjeta en Facturación.",
            "locale": "es",
            "published": True,
        },
    )
    assert r.status_code == 201, r.text
    draft = {"subject": "My card payment for the renewal failed, how do I change the card?"}
    # Not embedded yet: no word in common, nothing to suggest.
    assert agent.post("/kb/suggest", json=draft).json()["articles"] == []
    embed_everything(db)
    found = agent.post("/kb/suggest", json=draft).json()["articles"]
    assert [a["id"] for a in found] == [r.json()["id"]]


@needs_model
def test_workers_skip_the_rows_another_one_holds(desk: Desk, db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    agent = desk.agent()
    for title in ("Uno", "Due"):
        r = agent.post("/kb/articles", json={"title": title, "body": title, "locale": "it"})
        assert r.status_code == 201, r.text

    async def go() -> tuple[int, int]:
        async with db.sessions.begin() as holder:
            # Another worker is busy with the first row.
            await holder.execute(text("SELECT id FROM embedding ORDER BY id LIMIT 1 FOR UPDATE"))
            async with db.sessions.begin() as session:
                first = await asyncio.wait_for(
                    embedding_service.embed_pending(session, db.settings), timeout=60
                )
        async with db.sessions.begin() as session:
            second = await embedding_service.embed_pending(session, db.settings)
        return first, second

    assert db.run(go()) == (1, 1)


def test_the_setting_turns_the_model_off() -> None:
    from app.config import Settings

    off = Settings(semantic_search=False, _env_file=None)  # type: ignore[call-arg]
    assert embedding_service.embedder_for(off) is None


@needs_model
def test_searches_whose_words_find_nothing_fall_back_on_meaning(desk: Desk, db: Database) -> None:
    embedding_service.forget()
    agent = desk.agent()
    customer = desk.customer()
    r = agent.post(
        "/kb/articles",
        json={
            "title": "Pago rechazado: cambiar la tarjeta de crédito",
            "body": "Si el cobro de una renovación falla, añade una nueva tarjeta en Facturación.",
            "locale": "es",
            "published": True,
        },
    )
    assert r.status_code == 201, r.text
    article = r.json()["id"]
    r = agent.post(
        "/tickets",
        json={
            "customer_code": customer["code"],
            "type": "administrative",
            "subject": "Cobro rechazado en la renovación",
            "description": "El banco rechazó la tarjeta al renovar el hosting.",
        },
    )
    assert r.status_code == 201, r.text
    ticket = r.json()["id"]
    r = agent.post(
        f"/tickets/{ticket}/status",
        json={"status": "resolved", "solution": "La clienta añadió una nueva tarjeta y pagó."},
    )
    assert r.status_code == 200, r.text
    embed_everything(db)
    q = "card payment for the renewal failed"
    # Every word must match: none does, so the articles closest in meaning come, one page.
    page = agent.get("/kb/articles", params={"q": q}).json()
    assert [a["id"] for a in page["items"]] == [article] and page["next_cursor"] is None
    user = desk.customer_user(customer)
    page = user.get("/solutions", params={"q": q}).json()
    assert [t["id"] for t in page["items"]] == [ticket] and page["next_cursor"] is None
    # Another customer's user never sees it, by words or by meaning.
    other = desk.customer_user(desk.customer())
    assert other.get("/solutions", params={"q": q}).json()["items"] == []
    # Something unrelated finds nothing either way.
    assert agent.get("/kb/articles", params={"q": "coffee machine"}).json()["items"] == []


class Named:
    """What the held vectors need of a model: its name (the vectors are written here)."""

    name = "test-model"

    def query(self, text: str) -> bytes:
        raise AssertionError("not used")

    def passages(self, texts: Sequence[str]) -> list[bytes]:
        raise AssertionError("not used")


def unit(axis: int) -> bytes:
    vector = [0.0] * 8
    vector[axis] = 1.0
    return struct.pack("<8f", *vector)


def test_held_vectors_follow_the_database_reading_only_what_is_new(
    desk: Desk, db: Database
) -> None:
    """A customer's held vectors are brought up to date by the rows stored since (a newly
    solved ticket, a ticket embedded again), and read whole when a row went away."""
    embedding_service.forget()
    agent = desk.agent()
    customer = desk.customer()
    t1, t2, t3 = (desk.ticket(agent, customer)["id"] for _ in range(3))

    def store(ticket: int, axis: int) -> None:
        db.execute("DELETE FROM embedding WHERE ticket_id = :t", t=ticket)
        db.execute(
            "INSERT INTO embedding (ticket_id, customer_id, model, vector)"
            " VALUES (:t, :c, 'test-model', :v)",
            t=ticket,
            c=customer["id"],
            v=unit(axis),
        )

    def nearest(axis: int) -> list[tuple[int, float]]:
        async def go() -> list[tuple[int, float]]:
            async with db.sessions() as session:
                vectors = await embedding_service.Vectors.current(session, Named())
                held = await vectors.tickets(customer["id"])
                return held.nearest(unit(axis), 3)

        return db.run(go())

    def refreshes() -> int:
        (held,) = embedding_service._held.values()
        return held.tickets[customer["id"]].merged

    store(t1, 0)
    store(t2, 1)
    assert nearest(0)[0] == (t1, 1.0)
    assert refreshes() == 0
    # A ticket solved and embedded since: merged in, the set not read again.
    store(t3, 2)
    assert nearest(2)[0] == (t3, 1.0)
    assert refreshes() == 1
    # A ticket embedded again (its solution edited): its new vector replaces the old.
    store(t1, 3)
    assert nearest(3)[0] == (t1, 1.0)
    assert t1 not in [i for i, sim in nearest(0) if sim > 0.5]
    assert len(nearest(0)) == 3 and refreshes() == 2
    # The newest row deleted: the version went back, the set is read whole.
    db.execute("DELETE FROM embedding WHERE ticket_id = :t", t=t1)
    assert [i for i, _ in nearest(3)] == [t2, t3] or [i for i, _ in nearest(3)] == [t3, t2]
    assert refreshes() == 0
    embedding_service.forget()
