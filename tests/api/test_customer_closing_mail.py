"""A customer closing or withdrawing a ticket: whoever holds it (else the desk) is told by mail."""

from __future__ import annotations

from tests.api.test_notifications import DESK, World, move, names_the_ticket
from tests.conftest import Database
from tests.factories import Desk
from tests.smtp import SmtpSink, dispatch


def test_a_withdrawal_of_a_ticket_in_work_is_told_to_its_assignee(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk, agent_locale="it")
    ticket = world.ticket()
    r = world.agent.patch(f"/tickets/{ticket['id']}", json={"assignee_id": world.agent_user["id"]})
    assert r.status_code == 200, r.text
    move(world.agent, ticket, "in_progress")
    dispatch(db)
    mailbox.clear()

    move(world.client, ticket, "closed", note="Risolto da noi, grazie.")
    dispatch(db)
    to_agent = mailbox.one_to(world.agent_user["email"])
    names_the_ticket(to_agent, ticket)
    assert to_agent.subject.startswith(f"[{ticket['number']}] Ticket chiuso dal cliente: ")
    assert "Mario Rossi" in to_agent.text and "In lavorazione" in to_agent.text
    assert "Risolto da noi, grazie." in to_agent.text
    assert mailbox.to(DESK) == []
    assert "«In lavorazione» → «Chiuso»" in mailbox.one_to(world.email).text


def test_closing_an_unassigned_ticket_tells_the_desk_and_an_agents_close_tells_no_staff(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    withdrawn = world.ticket()
    handled = world.ticket(subject="Un altro problema")
    dispatch(db)
    mailbox.clear()

    move(world.client, withdrawn, "closed")
    move(world.agent, handled, "closed")
    dispatch(db)
    to_desk = mailbox.one_to(DESK)
    names_the_ticket(to_desk, withdrawn)
    assert "Ticket chiuso dal cliente" in to_desk.subject
    assert mailbox.to(world.agent_user["email"]) == []


def test_a_customer_accepting_a_solution_tells_the_assignee_in_their_language(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk, agent_locale="en")
    ticket = world.ticket()
    world.agent.patch(f"/tickets/{ticket['id']}", json={"assignee_id": world.agent_user["id"]})
    move(world.agent, ticket, "resolved", solution="Riavviare il servizio di stampa.")
    dispatch(db)
    mailbox.clear()

    move(world.client, ticket, "closed")
    dispatch(db)
    to_agent = mailbox.one_to(world.agent_user["email"])
    assert "Ticket closed by the customer" in to_agent.subject
    assert "accepting the solution" in to_agent.text
