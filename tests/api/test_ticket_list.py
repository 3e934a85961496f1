"""Listing tickets: every filter, combined; sorts; keyset pages; full text in three languages."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.db.text_analysis import variants
from tests.conftest import Database
from tests.factories import Desk, problem

JAN = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def stamp(desk: Desk, ticket: dict[str, Any], **times: datetime) -> None:
    """Set ``created_at`` / ``updated_at`` straight in the database."""
    for column, value in times.items():
        desk.db.execute(
            f"UPDATE ticket SET {column} = :v WHERE id = :id",  # noqa: S608
            v=desk.db_time(value),
            id=ticket["id"],
        )


def subjects(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [t["subject"] for t in r.json()["items"]]


def walk(client: httpx.Client, limit: int, **params: Any) -> list[str]:
    """Every page in turn; the subjects in the order the pages gave them."""
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        more = {"cursor": cursor} if cursor else {}
        page = client.get("/tickets", params={**params, "limit": limit, **more})
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        seen += [t["subject"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        assert body["items"], "a cursor after an empty page"
    raise AssertionError("the pages never end")


@dataclass
class World:
    """Two customers' tickets t1..t6, created a month apart, t1 first."""

    desk: Desk
    acme: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    mario: httpx.Client | None = None
    luca: httpx.Client | None = None
    agent: httpx.Client | None = None


@pytest.fixture
def world(desk: Desk, db: Database) -> World:
    w = World(desk)
    w.acme = desk.customer(code="ACME", email="ced@acme.example")
    w.other = desk.customer(code="OTHER", email="it@other.example")
    w.mario, mario = desk.user("customer", customer_id=w.acme["id"])
    giulia, _ = desk.user("customer", customer_id=w.acme["id"])
    w.luca, _ = desk.user("customer", customer_id=w.other["id"])
    w.agent, anna = desk.user("agent")
    second, carlos = desk.user("agent")
    tech = desk.category("technical", "Contabilità")
    sub = desk.category("technical", "Registri IVA", parent=tech)
    admin_area = desk.category("administrative", "Pagamenti")
    order = desk.order(w.acme)
    w.ids = {
        "mario": mario["id"],
        "anna": anna["id"],
        "carlos": carlos["id"],
        "tech": tech["id"],
        "sub": sub["id"],
        "admin_area": admin_area["id"],
        "order": order["id"],
    }
    t = w.tickets
    t["t1"] = desk.ticket(w.mario, w.acme, subject="t1", category_id=tech["id"])
    t["t2"] = desk.ticket(giulia, w.acme, subject="t2", category_id=sub["id"], severity="blocking")
    t["t3"] = desk.ticket(w.mario, w.acme, subject="t3", type="order", order_id=order["id"])
    t["t4"] = desk.ticket(w.luca, w.other, subject="t4", category_id=sub["id"], severity="blocking")
    t["t5"] = desk.ticket(
        second, w.acme, subject="t5", type="administrative", category_id=admin_area["id"]
    )
    t["t6"] = desk.ticket(w.luca, w.other, subject="t6", type="commercial")
    desk.move(w.agent, t["t2"], "in_progress")
    desk.move(w.agent, t["t3"], "waiting_customer")
    desk.admin().patch(f"/tickets/{t['t3']['id']}", json={"assignee_id": anna["id"]})
    desk.move(second, t["t4"], "in_progress")
    desk.move(second, t["t4"], "resolved")
    desk.move(second, t["t5"], "closed")
    # Created a month apart in order; last updated in another order: t3, t1, t6, t2, t5, t4.
    updated = ["t3", "t1", "t6", "t2", "t5", "t4"]
    for i, name in enumerate(t):
        stamp(
            desk,
            t[name],
            created_at=JAN + timedelta(days=31 * i),
            updated_at=JAN + timedelta(days=400 + updated.index(name)),
        )
    return w


ALL = ["t6", "t5", "t4", "t3", "t2", "t1"]


FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ALL),
    ({"status": "open"}, ["t6", "t1"]),
    ({"status": ["open", "closed"]}, ["t6", "t5", "t1"]),
    ({"type": "technical"}, ["t4", "t2", "t1"]),
    ({"category_id": "tech"}, ["t4", "t2", "t1"]),
    ({"category_id": "sub"}, ["t4", "t2"]),
    ({"severity": "blocking"}, ["t4", "t2"]),
    ({"severity": "normal"}, ["t6", "t5", "t3", "t1"]),
    ({"order_id": "order"}, ["t3"]),
    ({"customer_id": "acme"}, ["t5", "t3", "t2", "t1"]),
    ({"assignee_id": "anna"}, ["t3", "t2"]),
    ({"assignee_id": "carlos"}, ["t4"]),
    ({"requester_id": "mario"}, ["t3", "t1"]),
    ({"created_after": JAN + timedelta(days=62)}, ["t6", "t5", "t4", "t3"]),
    ({"created_before": JAN + timedelta(days=62)}, ["t2", "t1"]),
    (
        {"created_after": JAN + timedelta(days=31), "created_before": JAN + timedelta(days=93)},
        ["t3", "t2"],
    ),
    ({"updated_after": JAN + timedelta(days=403)}, ["t5", "t4", "t2"]),
    # Combined: every filter narrows the others.
    ({"customer_id": "acme", "status": ["open", "in_progress"]}, ["t2", "t1"]),
    ({"type": "technical", "severity": "blocking", "customer_id": "other"}, ["t4"]),
    ({"category_id": "tech", "status": "open", "requester_id": "mario"}, ["t1"]),
    ({"assignee_id": "anna", "status": "in_progress", "severity": "normal"}, []),
    (
        {"created_after": JAN, "updated_after": JAN + timedelta(days=404), "type": "technical"},
        ["t4"],
    ),
]


def test_every_filter_alone_and_combined(world: World) -> None:
    names = {**world.ids, "acme": world.acme["id"], "other": world.other["id"]}
    admin = world.desk.admin()
    wrong = {}
    for params, expected in FILTERS:
        resolved = {k: names.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
        found = subjects(admin.get("/tickets", params=resolved))
        if found != expected:
            wrong[str(params)] = (found, expected)
    assert wrong == {}


def test_a_customer_lists_their_customers_tickets_only(world: World) -> None:
    assert world.mario is not None and world.luca is not None
    assert subjects(world.mario.get("/tickets")) == ["t5", "t3", "t2", "t1"]
    assert subjects(world.luca.get("/tickets")) == ["t6", "t4"]
    # Asking for the other customer's tickets in any way shows nothing of theirs.
    other = world.other["id"]
    assert subjects(world.mario.get("/tickets", params={"customer_id": other})) == []
    assert subjects(world.mario.get("/tickets", params={"category_id": world.ids["sub"]})) == ["t2"]
    assert subjects(world.mario.get("/tickets", params={"severity": "blocking"})) == ["t2"]
    assert walk(world.mario, 1) == ["t5", "t3", "t2", "t1"]


SORTED = {
    "created_at": ["t1", "t2", "t3", "t4", "t5", "t6"],
    "-created_at": ALL,
    "updated_at": ["t3", "t1", "t6", "t2", "t5", "t4"],
    "-updated_at": ["t4", "t5", "t2", "t6", "t1", "t3"],
    # The urgent first, newest first within each severity.
    "severity": ["t4", "t2", "t6", "t5", "t3", "t1"],
}


def test_each_sort_and_its_pages(world: World) -> None:
    admin = world.desk.admin()
    for sort, expected in SORTED.items():
        assert subjects(admin.get("/tickets", params={"sort": sort})) == expected, sort
        for limit in (1, 4, 6):
            assert walk(admin, limit, sort=sort) == expected, (sort, limit)
        # Filters and pages together.
        acme = [s for s in expected if s in ("t1", "t2", "t3", "t5")]
        assert walk(admin, 2, sort=sort, customer_id=world.acme["id"]) == acme, sort


def test_pages_are_exact_when_many_tickets_share_a_time(desk: Desk) -> None:
    customer = desk.customer()
    admin = desk.admin()
    made = [
        desk.ticket(admin, customer, subject=f"s{i}", severity="blocking" if i % 3 else "normal")
        for i in range(9)
    ]
    for i, t in enumerate(made):
        same = JAN + timedelta(hours=i // 4)  # runs of equal times, broken by id
        stamp(desk, t, created_at=same, updated_at=same)
    for sort in SORTED:
        everything = subjects(admin.get("/tickets", params={"sort": sort, "limit": 100}))
        assert sorted(everything) == sorted(t["subject"] for t in made)
        for limit in (1, 2, 4):
            assert walk(admin, limit, sort=sort) == everything, (sort, limit)


def test_pages_stay_exact_while_tickets_are_added(desk: Desk) -> None:
    customer = desk.customer()
    admin = desk.admin()
    for i in range(6):
        desk.ticket(admin, customer, subject=f"old{i}")
    newest_first: list[str] = []
    oldest_first: list[str] = []
    cursors: dict[str, str | None] = {"-created_at": None, "created_at": None}
    for page in range(3):
        for sort, seen in (("-created_at", newest_first), ("created_at", oldest_first)):
            more = {"cursor": cursors[sort]} if cursors[sort] else {}
            r = admin.get("/tickets", params={"sort": sort, "limit": 2, **more})
            seen += subjects(r)
            cursors[sort] = r.json()["next_cursor"]
        # Someone opens a ticket between two page requests.
        desk.ticket(admin, customer, subject=f"new{page}")
    assert newest_first == [f"old{i}" for i in range(5, -1, -1)]
    assert cursors["-created_at"] is None
    # Oldest first, the pages go on into what was added, each ticket once.
    while cursors["created_at"] is not None:
        more = {"sort": "created_at", "limit": 2, "cursor": cursors["created_at"]}
        r = admin.get("/tickets", params=more)
        oldest_first += subjects(r)
        cursors["created_at"] = r.json()["next_cursor"]
    assert oldest_first == [f"old{i}" for i in range(6)] + ["new0", "new1", "new2"]


def cursor_of(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).rstrip(b"=").decode()


def test_bad_cursors_are_400(world: World) -> None:
    admin = world.desk.admin()
    first = admin.get("/tickets", params={"limit": 2}).json()["next_cursor"]
    assert first
    # A cursor of one sort is no cursor of another.
    for sort in ("created_at", "updated_at", "-updated_at", "severity"):
        problem(admin.get("/tickets", params={"cursor": first, "sort": sort}), 400)
    severity = admin.get("/tickets", params={"limit": 2, "sort": "severity"}).json()["next_cursor"]
    problem(admin.get("/tickets", params={"cursor": severity}), 400)
    at = "2026-01-01T00:00:00+00:00"
    forged = [
        "nonsense",
        "!!!",
        "e30",  # {}
        cursor_of(["-created_at"]),
        cursor_of(["-created_at", "yesterday", 1]),
        cursor_of(["-created_at", "2026-01-01T00:00:00", 1]),  # no offset
        cursor_of(["-created_at", at, "one"]),
        cursor_of(["-created_at", at, None]),
        cursor_of(["-created_at", at, True]),
        cursor_of(["-created_at", at, 2**31]),
        cursor_of(["-created_at", at, 2**80]),
        cursor_of(["-created_at", 12, 1]),
        cursor_of(["-created_at", "0001-01-01T00:00:00+01:00", 1]),
        cursor_of(["-created_at", at, 1, "extra"]),
        base64.urlsafe_b64encode(b'["-created_at","' + at.encode() + b'",1e400]').decode(),
    ]
    for cursor in forged:
        r = admin.get("/tickets", params={"cursor": cursor})
        assert r.status_code == 400, (cursor, r.text)
        problem(r, 400)
    for key in [
        ["severity", "urgent", at, 1],
        ["severity", "normal", "2026-01-01T00:00:00", 1],
        ["severity", "normal", at, 2**40],
        ["severity", "normal", at],
        ["severity", ["normal"], at, 1],
    ]:
        r = admin.get("/tickets", params={"cursor": cursor_of(key), "sort": "severity"})
        assert r.status_code == 400, (key, r.text)


BAD_PARAMETERS: list[dict[str, Any]] = [
    {"limit": 0},
    {"limit": 101},
    {"sort": "subject"},
    {"status": "lost"},
    {"type": "support"},
    {"severity": "urgent"},
    {"customer_id": 0},
    {"assignee_id": 2**31},
    {"category_id": -1},
    {"created_after": "yesterday"},
    {"created_after": "2026-01-01T00:00:00"},
    {"created_before": "2026-02-30"},  # a plain date is taken (test_date_filters), not a wrong one
    {"updated_after": "2026-01-01T00:00:00"},
    {"created_after": "0001-01-01T00:00:00+01:00"},
    {"created_before": "9999-12-31T23:59:59-01:00"},
    {"q": ""},
    {"q": "x" * 201},
    {"q": "il la di"},
]


def test_bad_list_parameters_are_422(desk: Desk) -> None:
    admin = desk.admin()
    for params in BAD_PARAMETERS:
        r = admin.get("/tickets", params=params)
        assert r.status_code == 422, (params, r.text)
        assert problem(r, 422)["errors"][0]["loc"][0] == "query"


def test_times_with_any_offset_are_understood(world: World) -> None:
    admin = world.desk.admin()
    # 31 Jan 2026 09:00 UTC is 10:00 in Rome and 04:00 in New York: the same instant.
    for at in ("2026-02-01T09:00:00Z", "2026-02-01T10:00:00+01:00", "2026-02-01T04:00:00-05:00"):
        assert subjects(admin.get("/tickets", params={"created_before": at})) == ["t1"]
        assert subjects(admin.get("/tickets", params={"created_after": at})) == ALL[:-1]


# --- full-text search ----------------------------------------------------------------------


@pytest.fixture
def texts(desk: Desk) -> dict[str, Any]:
    """Tickets of two customers in Italian, Spanish and English."""
    acme = desk.customer(code="ACME", email="ced@acme.example")
    other = desk.customer(code="OTHER", email="it@other.example")
    mario = desk.customer_user(acme)
    luca = desk.customer_user(other)
    desk.ticket(
        mario,
        acme,
        subject="Stampa della fattura",
        description="La fattura di ottobre non si stampa dalla città di Rimini.",
    )
    desk.ticket(
        mario,
        acme,
        subject="Facturas duplicadas",
        description="El sistema emite cada factura dos veces.",
    )
    desk.ticket(
        mario,
        acme,
        subject="Invoice numbering",
        description="The invoice number skips a value after a credit note.",
    )
    desk.ticket(mario, acme, subject="Magazzino", description="Inventario errato per il lotto 42.")
    desk.ticket(
        luca, other, subject="Fattura di un altro", description="Fatture altrui, riservate."
    )
    return {"mario": mario, "luca": luca, "acme": acme, "other": other}


SEARCHES: list[tuple[str, list[str]]] = [
    ("fatture", ["Stampa della fattura"]),
    ("fattura", ["Stampa della fattura"]),
    ("FATTURA", ["Stampa della fattura"]),
    ("facturas", ["Facturas duplicadas"]),
    ("factura", ["Facturas duplicadas"]),
    ("invoices", ["Invoice numbering"]),
    ("invoice", ["Invoice numbering"]),
    ("stampare", ["Stampa della fattura"]),
    ("citta", ["Stampa della fattura"]),
    ("città", ["Stampa della fattura"]),
    ("fattura ottobre", ["Stampa della fattura"]),
    ("fattura novembre", []),
    ("inventario", ["Magazzino"]),
    ("riservate", []),
]


def test_search_finds_words_and_their_relatives_in_three_languages(texts: dict[str, Any]) -> None:
    wrong = {}
    for q, expected in SEARCHES:
        found = subjects(texts["mario"].get("/tickets", params={"q": q}))
        if found != expected:
            wrong[q] = found
    assert wrong == {}


def test_staff_search_every_customer(texts: dict[str, Any], desk: Desk) -> None:
    found = subjects(desk.agent().get("/tickets", params={"q": "fatture"}))
    assert found == ["Fattura di un altro", "Stampa della fattura"]
    assert subjects(texts["luca"].get("/tickets", params={"q": "fattura"})) == [
        "Fattura di un altro"
    ]
    only = {"q": "fattura", "customer_id": texts["other"]["id"]}
    assert subjects(desk.agent().get("/tickets", params=only)) == ["Fattura di un altro"]


def test_search_covers_solutions_and_public_replies_but_not_internal_notes(desk: Desk) -> None:
    customer = desk.customer(email="ced@acme.example")
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer, subject="Backup", description="Il backup fallisce.")
    desk.reply(agent, ticket, "Controlli lo spazio sul disco esterno.")
    desk.reply(agent, ticket, "Segnalato al fornitore Zucchetti.", visibility="internal")
    desk.move(agent, ticket, "resolved", solution="Sostituito il cavo USB difettoso.")
    for q in ("disco", "esterni", "cavo", "difettosi", "backup"):
        assert subjects(client.get("/tickets", params={"q": q})) == ["Backup"], q
    # A word only in an internal note finds nothing for the customer.
    assert subjects(client.get("/tickets", params={"q": "zucchetti"})) == []
    assert subjects(client.get("/tickets", params={"q": "fornitore"})) == []


def test_search_follows_edits_of_the_subject(desk: Desk) -> None:
    customer = desk.customer(email="ced@acme.example")
    admin = desk.admin()
    ticket = desk.ticket(admin, customer, subject="Stampante", description="Non stampa.")
    r = admin.patch(f"/tickets/{ticket['id']}", json={"subject": "Scanner guasto"})
    assert r.status_code == 200, r.text
    assert subjects(admin.get("/tickets", params={"q": "scanner"})) == ["Scanner guasto"]
    assert subjects(admin.get("/tickets", params={"q": "stampante"})) == []


def test_search_combines_with_filters_and_pages(desk: Desk) -> None:
    customer = desk.customer(email="ced@acme.example")
    admin = desk.admin()
    for i in range(5):
        desk.ticket(
            admin, customer, subject=f"Fattura {i}", severity="blocking" if i % 2 else "normal"
        )
    desk.ticket(admin, customer, subject="Altro", description="Il magazzino non torna.")
    assert walk(admin, 2, q="fatture") == [f"Fattura {i}" for i in range(4, -1, -1)]
    assert walk(admin, 1, q="fatture", severity="blocking") == ["Fattura 3", "Fattura 1"]
    by_severity = ["Fattura 3", "Fattura 1", "Fattura 4", "Fattura 2", "Fattura 0"]
    assert walk(admin, 2, q="fatture", sort="severity") == by_severity


@pytest.mark.parametrize("first, longest", [(1, 1), (2, 4), (3, 1000)])
def test_a_search_pages_alike_however_far_it_walks(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, first: int, longest: int
) -> None:
    """On PostgreSQL a search walks the newest tickets first, then further when those held
    a few matches, then asks the index: whichever step settles a page, pages are the same
    (on SQLite these bounds are not used, and the pages are the same too)."""
    from app.services.tickets import search

    monkeypatch.setattr(search, "WALK", first)
    monkeypatch.setattr(search, "MAX_WALK", longest)
    customer = desk.customer()
    other = desk.customer()
    admin = desk.admin()
    quiet = "Nulla da aggiungere."
    for i in range(7):
        subject = f"Fattura {i}" if i % 3 else f"Magazzino {i}"
        desk.ticket(admin, customer, subject=subject, description=quiet)
    desk.ticket(admin, other, subject="Fattura altrui", description=quiet)
    user = desk.customer_user(customer)
    mine = ["Fattura 5", "Fattura 4", "Fattura 2", "Fattura 1"]
    for limit in (1, 2, 3, 5):
        assert walk(admin, limit, q="fatture") == ["Fattura altrui", *mine]
        assert walk(admin, limit, q="fatture", sort="created_at") == [*mine[::-1], "Fattura altrui"]
        assert walk(user, limit, q="fatture", sort="-updated_at") == mine
    assert walk(admin, 2, q="magazzino") == ["Magazzino 6", "Magazzino 3", "Magazzino 0"]
    assert walk(admin, 2, q="zanzibar") == []


def test_search_syntax_in_the_query_is_just_text(texts: dict[str, Any]) -> None:
    for q in ['fattura"', "fattura OR 1=1", "(fattura", "fatt*", "NOT fattura", "a:b", "'", "-x"]:
        r = texts["mario"].get("/tickets", params={"q": q})
        assert r.status_code in (200, 422), (q, r.text)
        if r.status_code == 200:
            assert "Fattura di un altro" not in subjects(r), q
        else:
            problem(r, 422)
    assert subjects(texts["mario"].get("/tickets", params={"q": 'fattura" OR "x'})) == [
        "Stampa della fattura"
    ]


def test_the_search_is_backed_by_the_databases_own_index(db: Database) -> None:
    if db.dialect == "sqlite":
        sql = db.scalar("SELECT sql FROM sqlite_master WHERE name = 'ticket_fts'")
        assert "fts5" in sql.lower()
    else:
        index = db.scalar(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'ticket_fts' AND indexdef ILIKE :g",
            g="%using gin%",
        )
        assert index and "document" in index


def test_a_long_conversation_keeps_taking_replies_with_a_bounded_index(desk: Desk) -> None:
    customer = desk.customer(email="ced@acme.example")
    agent = desk.agent()
    ticket = desk.ticket(agent, customer, subject="Log", description="Errore di sincronizzazione.")
    # A long exchange of log pastes, each nearly as long as a reply may be: 80,000 characters.
    for word in ("magazzino", "inventario", "giacenza", "ordinativo"):
        desk.reply(agent, ticket, body=((word + " ") * 2000)[:19_999])
    r = agent.post(f"/tickets/{ticket['id']}/replies", json={"body": "Parola zanzibar in coda."})
    assert r.status_code == 201, r.text
    # The ticket text and the earlier replies are found; what lies past the bound is not.
    for q, found in [("sincronizzazione", True), ("magazzino", True), ("zanzibar", False)]:
        assert subjects(agent.get("/tickets", params={"q": q})) == (["Log"] if found else []), q


def index_words(desk: Desk, ticket_id: int) -> set[str]:
    if desk.db.dialect == "sqlite":
        sql = "SELECT title || ' ' || body FROM ticket_fts WHERE rowid = :id"
    else:
        sql = (
            "SELECT array_to_string(tsvector_to_array(document), ' ') FROM ticket_fts"
            " WHERE ticket_id = :id"
        )
    return set(desk.db.scalar(sql, id=ticket_id).split())


def test_a_reply_adds_its_words_as_a_rebuild_of_the_entry_would(desk: Desk) -> None:
    """A reply appends its own words to the ticket's entry; rebuilding the entry from the
    whole conversation (a resolution does) finds the same words, plus the solution's."""
    customer = desk.customer(email="ced@acme.example")
    agent = desk.agent()
    ticket = desk.ticket(agent, customer, subject="Stampa", description="La stampante tace.")
    desk.reply(agent, ticket, body="Avete provato a riavviare lo spooler?")
    desk.reply(agent, ticket, body="Nota per noi: guasto noto.", visibility="internal")
    desk.reply(agent, ticket, body="Riavviato: le fatture escono di nuovo.")
    appended = index_words(desk, ticket["id"])
    assert {"spooler", "fatture", "riavviato"} <= appended
    assert "guasto" not in appended  # internal notes are not searchable
    desk.move(agent, ticket, "resolved", solution="Driver aggiornato.")
    rebuilt = index_words(desk, ticket["id"])
    assert rebuilt == appended | {"driver", "aggiornato"} | set().union(
        *(variants(w) for w in ("driver", "aggiornato"))
    )
