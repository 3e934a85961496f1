"""E-mail notifications, event by event of the contract's table, through a real SMTP server.

The shared live server runs no worker: each test makes its changes through the
API, checks that nothing was mailed inside the request, then runs the dispatcher
once, as a worker would, and reads what the SMTP server received.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import Database
from tests.factories import PASSWORD, Desk
from tests.smtp import SmtpSink, dispatch, make_due

DESK = "desk@sportello.test"


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    return body


def open_ticket(client: httpx.Client, code: str, **fields: Any) -> dict[str, Any]:
    body = {
        "customer_code": code,
        "type": "technical",
        "subject": "La stampa delle fatture si blocca",
        "description": "Da stamattina la stampa delle fatture si blocca al secondo foglio.",
        **fields,
    }
    r = client.post("/tickets", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def move(client: httpx.Client, ticket: dict[str, Any], to: str, **fields: Any) -> dict[str, Any]:
    r = client.post(f"/tickets/{ticket['id']}/status", json={"status": to, **fields})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def reply(
    client: httpx.Client, ticket: dict[str, Any], body: str, visibility: str = "public"
) -> None:
    r = client.post(
        f"/tickets/{ticket['id']}/replies", json={"body": body, "visibility": visibility}
    )
    assert r.status_code == 201, r.text


def names_the_ticket(mail: Any, ticket: dict[str, Any]) -> None:
    assert mail.subject.startswith(f"[{ticket['number']}] ")
    assert mail.subject.endswith(": " + ticket["subject"])
    assert ticket["number"] in mail.text and ticket["subject"] in mail.text
    assert ticket["number"] in mail.html


class World:
    """A customer (in ``locale``), one of its users, an agent."""

    def __init__(self, desk: Desk, locale: str = "it", agent_locale: str = "en") -> None:
        self.customer = desk.customer(locale=locale)
        self.client, self.user = desk.user(
            "customer", customer_id=self.customer["id"], name="Mario Rossi"
        )
        self.agent, self.agent_user = desk.user("agent", locale=agent_locale, name="Ada Agente")

    @property
    def email(self) -> str:
        return str(self.user["email"])

    def ticket(self, **fields: Any) -> dict[str, Any]:
        return open_ticket(self.client, self.customer["code"], **fields)


# --- ticket created ------------------------------------------------------------------------


def test_a_new_ticket_is_confirmed_to_the_contact_and_announced_to_the_desk(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket(severity="blocking")
    assert mailbox.messages == [], "nothing is sent inside the request"
    assert db.scalar("SELECT count(*) FROM notification WHERE status = 'queued'") == 2

    assert dispatch(db) == 2
    confirmation = mailbox.one_to(world.email)
    names_the_ticket(confirmation, ticket)
    assert confirmation.subject == f"[{ticket['number']}] Ticket ricevuto: {ticket['subject']}"
    assert "Gentile Mario Rossi" in confirmation.text
    assert "vi confermiamo l'avvenuta apertura del ticket" in confirmation.text
    assert "http://sportello.test/api/v1/public/tickets/" in confirmation.text
    assert confirmation.message["From"] == "Sportello <sportello@sportello.example>"

    announcement = mailbox.one_to(DESK)
    names_the_ticket(announcement, ticket)
    assert announcement.subject.startswith(f"[{ticket['number']}] Nuovo ticket: ")
    assert world.customer["code"] in announcement.text
    assert "Gravità: Bloccante" in announcement.text
    assert "public/tickets" not in announcement.text, "the link is the contact's alone"

    assert len({m.message_id for m in mailbox.messages}) == 2
    for mail in mailbox.messages:
        assert re.fullmatch(r"<notification-\d+\.\d+@sportello\.example>", mail.message_id)
        assert mail.message.get_all("Message-ID") == [mail.message_id]
        assert mail.message.get_content_type() == "multipart/alternative"
    assert db.scalar("SELECT count(*) FROM notification WHERE status = 'sent'") == 2


def test_a_ticket_without_a_contact_email_is_announced_to_the_desk_only(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    customer = desk.customer(phone="+39 0541 000111")
    integrator = desk.api_key("tickets:write", "tickets:read")
    ticket = open_ticket(integrator, customer["code"], contact={"preferred_channel": "phone"})
    assert ticket["contact"]["email"] is None
    assert dispatch(db) == 1
    names_the_ticket(mailbox.one_to(DESK), ticket)
    assert db.scalar("SELECT count(*) FROM ticket_public_link") == 0


# --- status changed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "confirmed", "changed"),
    [
        ("it", "Ticket ricevuto", "lo stato del vostro ticket"),
        ("es", "Ticket recibido", "El estado de su ticket"),
        ("en", "Ticket received", "The status of your ticket"),
    ],
)
def test_the_contact_is_told_in_the_customers_language_with_the_labels_of_meta_statuses(
    desk: Desk, mailbox: SmtpSink, db: Database, locale: str, confirmed: str, changed: str
) -> None:
    world = World(desk, locale=locale)
    ticket = world.ticket()
    move(world.agent, ticket, "in_progress")
    dispatch(db)

    labels = {
        s["value"]: s["label"]
        for s in world.client.get("/meta/statuses", params={"lang": locale}).json()["statuses"]
    }
    confirmation, status_mail = sorted(mailbox.to(world.email), key=lambda m: m.message_id)
    assert confirmation.subject.startswith(f"[{ticket['number']}] {confirmed}: ")
    names_the_ticket(status_mail, ticket)
    assert labels["in_progress"] in status_mail.subject
    assert changed in status_mail.text
    assert f"{labels['open']}" in status_mail.text and labels["in_progress"] in status_mail.text
    # The desk reads the customer's language too.
    assert f'lang="{locale}"' in mailbox.one_to(DESK).html


def test_the_resolved_mail_gives_the_solution_and_the_closed_one_says_how_to_go_on(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    move(world.agent, ticket, "resolved", solution="Aggiornare il driver della stampante.")
    dispatch(db)
    resolved = [m for m in mailbox.to(world.email) if "Risolto" in m.subject]
    assert len(resolved) == 1
    assert "«Aperto» → «Risolto»" in resolved[0].text
    assert "Soluzione:\nAggiornare il driver della stampante." in resolved[0].text
    assert "Aggiornare il driver della stampante." in resolved[0].html

    mailbox.clear()
    move(world.client, ticket, "closed")
    dispatch(db)
    closed = mailbox.one_to(world.email)
    assert "«Risolto» → «Chiuso»" in closed.text
    assert "follow-up" in closed.text
    # Whoever holds the ticket (here nobody: the desk) learns that the customer closed it.
    assert "Ticket chiuso dal cliente" in mailbox.one_to(DESK).subject


# --- replies -------------------------------------------------------------------------------


def test_an_agents_public_reply_is_mailed_to_the_contact_and_an_internal_note_to_no_one(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    dispatch(db)
    mailbox.clear()

    reply(world.agent, ticket, "Nota interna: il cliente ha il driver vecchio.", "internal")
    assert db.scalar("SELECT count(*) FROM notification WHERE status = 'queued'") == 0
    reply(world.agent, ticket, "Può inviarci una schermata dell'errore?")
    assert dispatch(db) == 1
    answer = mailbox.one_to(world.email)
    names_the_ticket(answer, ticket)
    assert answer.subject.startswith(f"[{ticket['number']}] Nuova risposta: ")
    assert "Ada Agente del servizio di assistenza ha risposto" in answer.text
    assert "Può inviarci una schermata dell'errore?" in answer.text
    assert "Nota interna" not in answer.text + answer.html


def test_a_customers_reply_goes_to_the_desk_until_someone_is_assigned_then_to_the_assignee(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk, locale="it", agent_locale="es")
    ticket = world.ticket()
    dispatch(db)
    mailbox.clear()

    reply(world.client, ticket, "Allego i dettagli richiesti.")
    dispatch(db)
    to_desk = mailbox.one_to(DESK)
    names_the_ticket(to_desk, ticket)
    assert to_desk.subject.startswith(f"[{ticket['number']}] Risposta del cliente: ")
    assert "Allego i dettagli richiesti." in to_desk.text
    assert mailbox.to(world.email) == [], "no mail to the customer about their own reply"

    mailbox.clear()
    move(world.agent, ticket, "in_progress")  # takes it in charge: the agent is the assignee
    reply(world.client, ticket, "Il problema si presenta anche sul secondo PC.")
    dispatch(db)
    to_agent = mailbox.one_to(world.agent_user["email"])
    # The assignee reads their own language (Spanish), not the customer's.
    assert to_agent.subject.startswith(f"[{ticket['number']}] Respuesta del cliente: ")
    assert "Il problema si presenta anche sul secondo PC." in to_agent.text
    assert "Estado actual: En curso" in to_agent.text
    assert mailbox.to(DESK) == []


def test_a_reopen_is_told_to_the_assignee_and_the_contact(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk, agent_locale="it")
    ticket = world.ticket()
    move(world.agent, ticket, "in_progress")
    move(world.agent, ticket, "resolved", solution="Riavviare il servizio di stampa.")
    dispatch(db)
    mailbox.clear()

    move(world.client, ticket, "open", note="Dopo il riavvio il problema si ripresenta.")
    dispatch(db)
    to_agent = mailbox.one_to(world.agent_user["email"])
    names_the_ticket(to_agent, ticket)
    assert to_agent.subject.startswith(f"[{ticket['number']}] Ticket riaperto: ")
    assert "Dopo il riavvio il problema si ripresenta." in to_agent.text
    to_contact = mailbox.one_to(world.email)
    assert "«Risolto» → «Aperto»" in to_contact.text


def test_a_reply_that_reopens_makes_one_mail_for_the_staff_saying_both(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    move(world.agent, ticket, "resolved", solution="Riavviare il servizio di stampa.")
    dispatch(db)
    mailbox.clear()

    reply(world.client, ticket, "Non ha funzionato, la stampa si blocca ancora.")
    dispatch(db)
    to_desk = mailbox.one_to(DESK)
    assert "Risposta del cliente" in to_desk.subject
    assert "Non ha funzionato, la stampa si blocca ancora." in to_desk.text
    assert "è stato riaperto" in to_desk.text
    assert "«Risolto» → «Aperto»" in mailbox.one_to(world.email).text


def test_an_automatic_close_is_told_to_the_contact(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    from app.worker import run_jobs_once

    world = World(desk)
    ticket = world.ticket()
    move(world.agent, ticket, "resolved", solution="Riavviare il servizio di stampa.")
    dispatch(db)
    mailbox.clear()
    long_ago = datetime.now(UTC) - timedelta(days=settings.auto_close_days + 1)
    db.execute(
        "UPDATE ticket SET resolved_at = :at WHERE id = :id",
        at=long_ago.replace(tzinfo=None) if db.dialect == "sqlite" else long_ago,
        id=ticket["id"],
    )
    # One round of the worker: the job closes the ticket, the dispatcher mails it.
    db.run(run_jobs_once(db.sessions, settings))
    closed = mailbox.one_to(world.email)
    assert "«Risolto» → «Chiuso»" in closed.text


# --- the admins' view: failures and retries ------------------------------------------------


def test_a_refused_mail_fails_after_its_last_attempt_and_an_admin_retries_it(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings
) -> None:
    two_tries = settings.model_copy(update={"mail_max_attempts": 2})
    world = World(desk)
    mailbox.rejected.add(world.email.lower())
    ticket = world.ticket()

    dispatch(db, two_tries)
    assert mailbox.one_to(DESK)  # the other mail of the batch went out
    row = db.scalar(
        "SELECT status || ' ' || attempts FROM notification WHERE recipient = :r", r=world.email
    )
    assert row == "queued 1"
    make_due(db)
    dispatch(db, two_tries)
    assert (
        db.scalar("SELECT status FROM notification WHERE recipient = :r", r=world.email) == "failed"
    )

    admin = desk.admin()
    failed = admin.get("/notifications", params={"status": "failed"}).json()
    assert failed["next_cursor"] is None
    [item] = failed["items"]
    assert (item["kind"], item["recipient"], item["attempts"]) == ("confirmation", world.email, 2)
    assert (item["ticket_id"], item["ticket_number"]) == (ticket["id"], ticket["number"])
    assert item["last_error"].startswith("SMTP 550")
    assert item["next_attempt_at"] is None and item["sent_at"] is None
    assert "secret" not in item and "context" not in item

    problem(world.agent.get("/notifications", params={"status": "failed"}), 403)
    problem(world.client.get("/notifications"), 403)
    problem(world.agent.post(f"/notifications/{item['id']}/retry"), 403)
    problem(desk.anonymous().get("/notifications"), 401)

    mailbox.rejected.clear()
    retried = admin.post(f"/notifications/{item['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("queued", 0)
    problem(admin.post(f"/notifications/{item['id']}/retry"), 409)
    problem(admin.post("/notifications/999999/retry"), 404)

    assert dispatch(db, two_tries) == 1
    confirmation = mailbox.one_to(world.email)
    assert "public/tickets/" in confirmation.text, "the retried confirmation still has its link"
    sent = admin.get("/notifications", params={"status": "sent", "ticket_id": ticket["id"]})
    assert {i["kind"] for i in sent.json()["items"]} == {"confirmation", "new_ticket"}


def test_a_refused_mail_of_no_ticket_is_listed_and_retried_too(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings
) -> None:
    """The link confirming a new address belongs to no ticket: the admins' view once joined
    every mail to its ticket, so such a mail that failed was neither listed nor retryable."""
    two_tries = settings.model_copy(update={"mail_max_attempts": 2})
    world = World(desk)
    new = "nuovo.indirizzo@rossi.example"
    mailbox.rejected.add(new)
    r = world.client.patch("/me", json={"email": new, "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    dispatch(db, two_tries)
    make_due(db)
    dispatch(db, two_tries)

    admin = desk.admin()
    [item] = admin.get("/notifications", params={"status": "failed"}).json()["items"]
    assert (item["kind"], item["recipient"], item["attempts"]) == ("email_change", new, 2)
    assert (item["ticket_id"], item["ticket_number"]) == (None, None)
    assert "secret" not in item and "context" not in item
    assert admin.get("/notifications", params={"ticket_id": 1}).json()["items"] == []

    mailbox.rejected.clear()
    retried = admin.post(f"/notifications/{item['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["ticket_id"]) == ("queued", None)
    assert dispatch(db, two_tries) == 1
    assert "/auth/email-confirmations/" in mailbox.one_to(new).text


def test_the_admin_list_pages_newest_first_and_filters(desk: Desk, db: Database) -> None:
    world = World(desk)
    first = world.ticket()
    second = world.ticket(subject="Secondo problema")
    admin = desk.admin()

    page = admin.get("/notifications", params={"limit": 3}).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = admin.get("/notifications", params={"limit": 3, "cursor": page["next_cursor"]}).json()
    ids = [i["id"] for i in page["items"] + rest["items"]]
    assert len(ids) == 4 and ids == sorted(ids, reverse=True)
    assert rest["next_cursor"] is None

    only_first = admin.get("/notifications", params={"ticket_id": first["id"]}).json()["items"]
    assert {i["ticket_number"] for i in only_first} == {first["number"]}
    queued = admin.get("/notifications", params={"status": "queued"}).json()["items"]
    assert {i["ticket_id"] for i in queued} == {first["id"], second["id"]}
    assert admin.get("/notifications", params={"status": "failed"}).json()["items"] == []

    problem(admin.get("/notifications", params={"cursor": "bm90LWEtY3Vyc29y"}), 400)
    problem(admin.get("/notifications", params={"status": "lost"}), 422)
    problem(admin.get("/notifications", params={"limit": 101}), 422)
