"""Suggestions before a ticket is opened, measured on a labelled set (tests/data/knowledge_*.json).

The corpus (43 articles in it/es/en, 42 solved tickets of three customers) is
loaded through the API; each of the 65 labelled drafts is sent to
``POST /kb/suggest`` by a user of its customer, and recall@5 is how often the
draft's labelled answer is among the articles or the tickets suggested.

Measured (65 drafts): recall@5 65/65 on SQLite and on PostgreSQL; recall@1
62/65 (0.954) on SQLite, 63/65 (0.969) on PostgreSQL; 5 of the 6 drafts the
corpus cannot answer get no suggestion at all. The thresholds below sit just
under these figures, so a change that makes suggestions worse fails here.
``SPORTELLO_SHOW_RECALL=1 pytest -s -k recall`` prints the figures and every miss.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import repo_root
from tests.factories import Desk

DATA = repo_root() / "tests" / "data"
RECALL_AT_5 = 0.96  # measured 1.0 on both databases
RECALL_AT_1 = 0.92  # measured 0.954 (SQLite), 0.969 (PostgreSQL)
QUIET_UNRELATED = 4  # measured 5 of 6


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


@dataclass
class World:
    """The corpus, loaded: the id of every labelled item, and a user of every customer."""

    ids: dict[str, int]
    users: dict[str, httpx.Client]
    customers: dict[str, dict[str, Any]]
    hidden_article: int
    open_tickets: set[int]


def build_world(desk: Desk) -> World:
    corpus = load("knowledge_corpus.json")
    agent = desk.agent()
    customers = {lang: desk.customer(**spec) for lang, spec in corpus["customers"].items()}
    users = {lang: desk.customer_user(c) for lang, c in customers.items()}
    ids: dict[str, int] = {}
    for article in corpus["articles"]:
        body = {k: article[k] for k in ("title", "body", "locale")}
        r = agent.post("/kb/articles", json={**body, "published": True})
        assert r.status_code == 201, r.text
        ids[article["key"]] = r.json()["id"]
    # A draft article on a topic many drafts ask about: never suggested.
    r = agent.post(
        "/kb/articles",
        json={
            "title": "Bozza: errori di trasmissione al SIAN, password e credenziali",
            "body": "In revisione: trasmissione operazioni SIAN, errore utente non autorizzato.",
            "locale": "it",
        },
    )
    assert r.status_code == 201, r.text
    hidden_article = r.json()["id"]
    for n, ticket in enumerate(corpus["tickets"]):
        code = customers[ticket["customer"]]["code"]
        fields = {k: ticket[k] for k in ("type", "subject", "description")}
        r = agent.post("/tickets", json={"customer_code": code, **fields})
        assert r.status_code == 201, r.text
        ticket_id = r.json()["id"]
        r = agent.post(
            f"/tickets/{ticket_id}/status",
            json={"status": "resolved", "solution": ticket["solution"]},
        )
        assert r.status_code == 200, r.text
        if n % 3 == 0:  # closed tickets count as solved too
            r = agent.post(f"/tickets/{ticket_id}/status", json={"status": "closed"})
            assert r.status_code == 200, r.text
        ids[ticket["key"]] = ticket_id
    # Tickets still being worked on are not answers, however well they match.
    open_tickets = set()
    for lang, subject in (
        ("it", "Errore utente non autorizzato nella trasmissione SIAN"),
        ("es", "Certificado SSL caducado, la web muestra conexión no privada"),
        ("en", "Mailbox full, senders get a bounce about the quota"),
    ):
        r = agent.post(
            "/tickets",
            json={
                "customer_code": customers[lang]["code"],
                "type": "technical",
                "subject": subject,
                "description": subject,
            },
        )
        assert r.status_code == 201, r.text
        open_tickets.add(r.json()["id"])
    return World(ids, users, customers, hidden_article, open_tickets)


def suggest(client: httpx.Client, draft: dict[str, Any]) -> dict[str, Any]:
    body = {k: draft[k] for k in ("subject", "description", "type") if k in draft}
    r = client.post("/kb/suggest", json=body)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    assert len(found["articles"]) <= 5 and len(found["tickets"]) <= 5
    return found


def test_recall_at_5_on_the_labelled_drafts(desk: Desk) -> None:
    world = build_world(desk)
    data = load("knowledge_drafts.json")
    drafts = data["drafts"]
    key_of = {(k[0], v): k for k, v in world.ids.items()}
    ranks: list[int] = []
    misses = []
    for draft in drafts:
        found = suggest(world.users[draft["customer"]], draft)
        articles = [a["id"] for a in found["articles"]]
        tickets = [t["id"] for t in found["tickets"]]
        # Never another customer's ticket, never one still open, never a draft article.
        own = world.customers[draft["customer"]]["id"]
        assert {t["customer_id"] for t in found["tickets"]} <= {own}
        assert not world.open_tickets & set(tickets)
        assert all(
            t["status"] in ("resolved", "closed") and t["solution"] for t in found["tickets"]
        )
        assert world.hidden_article not in articles
        for kind in ("articles", "tickets"):  # best first
            scores = [item["score"] for item in found[kind]]
            assert scores == sorted(scores, reverse=True)
        answer = world.ids[draft["answer"]]
        pool = articles if draft["answer"].startswith("a:") else tickets
        if answer in pool:
            ranks.append(pool.index(answer) + 1)
        else:
            named = [key_of["a", i] for i in articles] + [key_of["t", i] for i in tickets]
            misses.append((draft["subject"], draft["answer"], named))
    # Drafts the corpus has no answer for should mostly get no suggestion at all.
    quiet = 0
    for draft in data["unrelated"]:
        found = suggest(world.users[draft["customer"]], draft)
        quiet += not found["articles"] and not found["tickets"]
    recall = len(ranks) / len(drafts)
    first = ranks.count(1) / len(drafts)
    if os.environ.get("SPORTELLO_SHOW_RECALL"):
        print(
            f"\nrecall@5 {len(ranks)}/{len(drafts)} = {recall:.3f}; "
            f"recall@1 {ranks.count(1)}/{len(drafts)} = {first:.3f}; "
            f"MRR {sum(1 / r for r in ranks) / len(drafts):.3f}; "
            f"unrelated drafts with no suggestion {quiet}/{len(data['unrelated'])}"
        )
        for miss in misses:
            print("  miss:", *miss)
    assert recall >= RECALL_AT_5, misses
    assert first >= RECALL_AT_1
    assert quiet >= QUIET_UNRELATED


def test_staff_get_the_solved_tickets_of_the_customer_they_name(desk: Desk) -> None:
    agent = desk.agent()
    first, second = desk.customer(), desk.customer()
    for customer in (first, second):
        r = agent.post(
            "/tickets",
            json={
                "customer_code": customer["code"],
                "type": "technical",
                "subject": "Certificato SSL scaduto",
                "description": "Il browser avvisa che la connessione non è privata.",
            },
        )
        assert r.status_code == 201, r.text
        r = agent.post(
            f"/tickets/{r.json()['id']}/status",
            json={"status": "resolved", "solution": "Rinnovato il certificato SSL."},
        )
        assert r.status_code == 200, r.text
    draft = {"subject": "Certificato scaduto", "description": "Connessione non privata"}

    def owners(client: httpx.Client, **extra: Any) -> list[int]:
        r = client.post("/kb/suggest", json={**draft, **extra})
        assert r.status_code == 200, r.text
        return sorted(t["customer_id"] for t in r.json()["tickets"])

    assert owners(agent, customer_code=second["code"].lower()) == [second["id"]]
    assert owners(agent, customer_code=first["code"]) == [first["id"]]
    assert owners(agent) == []  # no customer named: articles only
    user = desk.customer_user(first)
    assert owners(user) == [first["id"]]
    assert owners(user, customer_code=first["code"]) == [first["id"]]
    key = desk.api_key("kb:read", "tickets:read")
    assert owners(key) == [] and owners(key, customer_code=second["code"]) == [second["id"]]
    # Another customer's code is refused as at ticket creation: the same answer as a wrong one.
    for code in (second["code"], "NO-SUCH-CODE"):
        r = user.post("/kb/suggest", json={**draft, "customer_code": code})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["body", "customer_code"]


def test_api_keys_need_both_read_scopes(desk: Desk) -> None:
    draft = {"subject": "Fattura scartata"}
    assert (
        desk.api_key("kb:read", "tickets:read").post("/kb/suggest", json=draft).status_code == 200
    )
    for scopes in (("kb:read",), ("tickets:read",)):
        assert desk.api_key(*scopes).post("/kb/suggest", json=draft).status_code == 403


def test_a_draft_of_only_common_words_gets_no_suggestion(desk: Desk) -> None:
    agent = desk.agent()
    r = agent.post(
        "/kb/articles",
        json={"title": "Buongiorno", "body": "Grazie per averci scritto.", "locale": "it"},
    )
    assert r.status_code == 201, r.text
    r = agent.post("/kb/suggest", json={"subject": "Buongiorno, grazie", "description": "Saluti"})
    assert r.status_code == 200, r.text
    assert r.json() == {"articles": [], "tickets": []}


def test_bad_drafts_are_422(desk: Desk) -> None:
    agent = desk.agent()
    for body in (
        {},
        {"subject": ""},
        {"subject": "x" * 201},
        {"subject": "ok", "description": "x" * 20_001},
        {"subject": "ok", "type": "urgent"},
        {"subject": "ok", "locale": "it"},
    ):
        r = agent.post("/kb/suggest", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
