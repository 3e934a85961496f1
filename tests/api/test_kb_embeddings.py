"""The embeddings of articles and solved tickets: marked on write, computed by the worker job."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import text

from app.infra.embeddings import VectorSet
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


def store_vector(db: Database, customer_id: int, ticket: int, axis: int) -> None:
    """As the worker stores a ticket's vector: its row replaced by a new one (a new id)."""
    db.execute("DELETE FROM embedding WHERE ticket_id = :t", t=ticket)
    db.execute(
        "INSERT INTO embedding (ticket_id, customer_id, model, vector)"
        " VALUES (:t, :c, 'test-model', :v)",
        t=ticket,
        c=customer_id,
        v=unit(axis),
    )


def held_tickets(db: Database, customer_id: int) -> VectorSet:
    """The customer's vectors as the process holds them, brought up to date."""

    async def go() -> VectorSet:
        async with db.sessions() as session:
            vectors = await embedding_service.Vectors.current(session, Named())
            return await vectors.tickets(customer_id)

    return db.run(go())


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
        store_vector(db, customer["id"], ticket, axis)

    def nearest(axis: int) -> list[tuple[int, float]]:
        return held_tickets(db, customer["id"]).nearest(unit(axis), 3)

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


def test_the_customer_asked_about_is_never_the_one_dropped_from_memory(
    desk: Desk, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the cap of vectors held, the customers asked about least lately are dropped: never
    the one being answered (whose refreshed set used to be dropped, then not found: a 500)."""
    embedding_service.forget()
    monkeypatch.setattr(embedding_service, "MAX_CACHED_TICKETS", 5)
    agent = desk.agent()
    first, second = desk.customer(), desk.customer()
    ones = [desk.ticket(agent, first)["id"] for _ in range(4)]
    twos = [desk.ticket(agent, second)["id"] for _ in range(2)]

    def store(customer: dict[str, Any], ticket: int, axis: int) -> None:
        store_vector(db, customer["id"], ticket, axis)

    def held(customer: dict[str, Any]) -> int:
        return len(held_tickets(db, customer["id"]))

    for n, ticket in enumerate(ones[:3]):
        store(first, ticket, n)
    for n, ticket in enumerate(twos):
        store(second, ticket, n)
    assert held(first) == 3 and held(second) == 2  # 5: at the cap
    store(first, ones[3], 3)
    assert held(first) == 4  # refreshed, kept; the other customer's set made room
    (memory,) = embedding_service._held.values()
    assert list(memory.tickets) == [first["id"]]
    embedding_service.forget()


class Fixed(Named):
    """A model whose every query lands on one vector (the articles' are written here)."""

    def query(self, text: str) -> bytes:
        return unit(0)


def test_an_article_gone_since_its_vector_was_held_hides_no_other(
    desk: Desk, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search whose words find nothing falls back on meaning; a held vector whose article
    was deleted since (the set not read again yet) must not take the first place and hold
    the real matches to its similarity."""
    from app.domain.access import Actor, Role
    from app.domain.ranking import CALIBRATIONS, Calibration
    from app.services import articles

    embedding_service.forget()
    monkeypatch.setitem(CALIBRATIONS, Named.name, Calibration(sure=0.85, likely=0.82, margin=0.04))
    agent = desk.agent()

    def article(title: str) -> int:
        r = agent.post(
            "/kb/articles",
            json={"title": title, "body": "Testo", "locale": "it", "published": True},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    gone, close, newest = article("Uno"), article("Due"), article("Tre")
    db.execute("DELETE FROM embedding")
    near = struct.pack("<8f", 0.9, 0.43589, 0, 0, 0, 0, 0, 0)  # cosine 0.9 to the query
    for item, vector in ((gone, unit(0)), (close, near), (newest, unit(5))):
        db.execute(
            "INSERT INTO embedding (kb_article_id, model, vector) VALUES (:a, 'test-model', :v)",
            a=item,
            v=vector,
        )
    staff = Actor(role=Role.AGENT, user_id=None, customer_id=None, name="agent")

    def search() -> list[int]:
        async def go() -> list[int]:
            async with db.sessions() as session:
                found, _ = await articles.list_page(
                    session,
                    staff,
                    articles.Filters(q="zzzqqq"),
                    limit=10,
                    cursor=None,
                    embedder=Fixed(),
                )
                return [a.id for a in found]

        return db.run(go())

    assert search() == [gone]  # 1.0 to the query: the others are too far from it
    assert agent.delete(f"/kb/articles/{gone}").status_code == 204
    # Its row went with it, but the newest row is another's: the held set is not read again.
    assert search() == [close]
    embedding_service.forget()
