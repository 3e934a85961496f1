"""``GET /solutions?q=``: the problems already solved for a customer, searched before asking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.config import Settings
from app.services import tickets as ticket_service
from tests.conftest import Database
from tests.factories import Desk


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    return body


def open_ticket(
    agent: httpx.Client, customer: dict[str, Any], subject: str, description: str = "Vedi oggetto."
) -> dict[str, Any]:
    r = agent.post(
        "/tickets",
        json={
            "customer_code": customer["code"],
            "type": "technical",
            "subject": subject,
            "description": description,
        },
    )
    assert r.status_code == 201, r.text
    ticket: dict[str, Any] = r.json()
    return ticket


def move(agent: httpx.Client, ticket: dict[str, Any], status: str, **fields: Any) -> None:
    r = agent.post(f"/tickets/{ticket['id']}/status", json={"status": status, **fields})
    assert r.status_code == 200, r.text


def solved(
    agent: httpx.Client,
    customer: dict[str, Any],
    subject: str,
    solution: str,
    *,
    close: bool = False,
    description: str = "Vedi oggetto.",
) -> dict[str, Any]:
    ticket = open_ticket(agent, customer, subject, description)
    move(agent, ticket, "resolved", solution=solution)
    if close:
        move(agent, ticket, "closed")
    return ticket


def subjects(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [t["subject"] for t in r.json()["items"]]


def test_a_customer_finds_their_companys_solved_tickets_with_the_solutions(desk: Desk) -> None:
    agent = desk.agent()
    mine, theirs = desk.customer(), desk.customer()
    solved(agent, mine, "Invio al SIAN in errore", "Rinnovata la password del servizio SIAN.")
    solved(
        agent, mine, "SIAN: utente non autorizzato", "Password SIAN scaduta, rinnovata.", close=True
    )
    open_ticket(agent, mine, "SIAN bloccato di nuovo")  # not solved: not an answer
    solved(agent, theirs, "SIAN fermo anche da noi", "Password SIAN scaduta.")  # not theirs
    # A colleague of the requester finds them too.
    colleague = desk.customer_user(mine)
    r = colleague.get("/solutions", params={"q": "sian"})
    assert sorted(subjects(r)) == ["Invio al SIAN in errore", "SIAN: utente non autorizzato"]
    items = {t["subject"]: t for t in r.json()["items"]}
    assert (
        items["Invio al SIAN in errore"]["solution"] == "Rinnovata la password del servizio SIAN."
    )
    assert items["SIAN: utente non autorizzato"]["status"] == "closed"
    assert {t["customer_id"] for t in r.json()["items"]} == {mine["id"]}
    # Naming the other customer shows nothing of theirs.
    r = colleague.get("/solutions", params={"q": "sian", "customer_id": theirs["id"]})
    assert subjects(r) == []


def test_the_solution_and_public_replies_are_searched_but_never_internal_notes(
    desk: Desk,
) -> None:
    agent = desk.agent()
    customer = desk.customer()
    by_solution = solved(agent, customer, "Stampa lenta", "Reimpostato il filtro degli esercizi.")
    by_reply = open_ticket(agent, customer, "Registri IVA")
    r = agent.post(
        f"/tickets/{by_reply['id']}/replies",
        json={"body": "Ristampa in prova dopo aver corretto le aliquote.", "visibility": "public"},
    )
    assert r.status_code == 201, r.text
    r = agent.post(
        f"/tickets/{by_reply['id']}/replies",
        json={"body": "Nota interna: cliente moroso, segreto.", "visibility": "internal"},
    )
    assert r.status_code == 201, r.text
    move(agent, by_reply, "resolved", solution="Corretti i codici IVA.")
    user = desk.customer_user(customer)
    assert subjects(user.get("/solutions", params={"q": "filtro esercizi"})) == [
        by_solution["subject"]
    ]
    assert subjects(user.get("/solutions", params={"q": "aliquote"})) == ["Registri IVA"]
    for client in (user, agent):
        assert subjects(client.get("/solutions", params={"q": "moroso"})) == []


def test_tickets_closed_without_an_answer_are_not_solutions(
    desk: Desk, db: Database, settings: Settings
) -> None:
    agent = desk.agent()
    customer = desk.customer()
    answered = solved(agent, customer, "Casella PEC piena", "Svuotata la casella PEC.")
    withdrawn = open_ticket(agent, customer, "Casella PEC non riceve")
    move(desk.customer_user(customer), withdrawn, "closed")  # the customer withdraws it
    # Left waiting for the customer past the timeout: resolved by the worker "for lack of response".
    silent = open_ticket(agent, customer, "Casella PEC lenta")
    move(agent, silent, "waiting_customer")
    long_ago = datetime.now(UTC) - timedelta(days=settings.waiting_timeout_days + 1)
    if db.dialect == "sqlite":
        long_ago = long_ago.replace(tzinfo=None)
    db.execute(
        "UPDATE ticket SET status_changed_at = :at WHERE id = :id", at=long_ago, id=silent["id"]
    )

    async def run_the_job() -> int:
        async with db.sessions.begin() as session:
            return await ticket_service.automatic_moves(session, settings)

    assert db.run(run_the_job()) == 1
    assert agent.get(f"/tickets/{silent['id']}").json()["status"] == "resolved"
    assert subjects(agent.get("/solutions", params={"q": "casella pec"})) == [answered["subject"]]
    r = agent.post(
        "/kb/suggest",
        json={"subject": "Casella PEC", "description": "pec", "customer_code": customer["code"]},
    )
    assert [t["id"] for t in r.json()["tickets"]] == [answered["id"]]


def test_every_word_must_match_and_the_best_come_first(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    solved(agent, customer, "Certificato SSL", "Rinnovato il certificato SSL.")
    solved(
        agent,
        customer,
        "Sito lento",
        "Cache svuotata.",
        description="Dopo il rinnovo del certificato SSL il sito è lento.",
    )
    solved(agent, customer, "Certificato di firma", "Nuovo dispositivo di firma.")
    found = subjects(agent.get("/solutions", params={"q": "certificati ssl"}))
    # The one about it in its subject before the one that mentions it in passing.
    assert found == ["Certificato SSL", "Sito lento"]


def test_staff_search_every_customer_or_one(desk: Desk) -> None:
    agent = desk.agent()
    first, second = desk.customer(), desk.customer()
    solved(agent, first, "Dominio scaduto", "Rinnovato il dominio.")
    solved(agent, second, "Dominio trasferito", "Trasferimento completato.")
    assert sorted(subjects(agent.get("/solutions", params={"q": "dominio"}))) == [
        "Dominio scaduto",
        "Dominio trasferito",
    ]
    r = agent.get("/solutions", params={"q": "dominio", "customer_id": second["id"]})
    assert subjects(r) == ["Dominio trasferito"]


def test_results_page_by_relevance(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    for n in range(4):
        solved(agent, customer, f"Backup {n}", "Ripristinato il backup. " * (n + 1))
    ranked = subjects(agent.get("/solutions", params={"q": "backup"}))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "backup", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = agent.get("/solutions", params=params).json()
        seen += [t["subject"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(ranked) == 4 and seen == ranked
    problem(agent.get("/solutions", params={"q": "backup", "cursor": "W10"}), 400)


def test_api_keys_need_tickets_read(desk: Desk) -> None:
    agent = desk.agent()
    solved(agent, desk.customer(), "Casella piena", "Svuotato il cestino.")
    assert subjects(desk.api_key("tickets:read").get("/solutions", params={"q": "casella"})) == [
        "Casella piena"
    ]
    problem(desk.api_key("kb:read").get("/solutions", params={"q": "casella"}), 403)


def test_bad_searches_are_422(desk: Desk) -> None:
    agent = desk.agent()
    for params in (
        {},
        {"q": ""},
        {"q": "x" * 201},
        {"q": "il la"},
        {"q": "sian", "customer_id": 0},
        {"q": "sian", "limit": 101},
    ):
        problem(agent.get("/solutions", params=params), 422)
