"""The public status link of the confirmation e-mail: what it shows, to whom, and how it is kept."""

from __future__ import annotations

import hashlib
import re
import secrets

import httpx
import pytest

from tests.api.test_notifications import World, move, problem, reply
from tests.conftest import Database
from tests.factories import Desk
from tests.smtp import SmtpSink, dispatch

LINK = re.compile(r"http://sportello\.test/api/v1/public/tickets/([A-Za-z0-9_-]+)")


def mailed_token(mailbox: SmtpSink, address: str) -> str:
    [confirmation] = [m for m in mailbox.to(address) if "Ticket ricevuto" in m.subject]
    found = LINK.search(confirmation.text)
    assert found is not None, confirmation.text
    assert f'href="{found.group(0)}"' in confirmation.html
    return found.group(1)


def test_the_mailed_link_shows_the_ticket_and_its_public_replies_only(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    reply(world.agent, ticket, "Nota interna: driver obsoleto sul PC del cliente.", "internal")
    reply(world.agent, ticket, "Abbiamo individuato il problema, lo risolviamo oggi.")
    move(world.agent, ticket, "resolved", solution="Driver della stampante aggiornato.")
    dispatch(db)
    token = mailed_token(mailbox, world.email)
    assert len(token) >= 43, "at least 256 bits"

    anonymous = desk.anonymous()
    r = anonymous.get(f"/public/tickets/{token}")
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {
        "number",
        "subject",
        "status",
        "status_label",
        "created_at",
        "updated_at",
        "solution",
        "replies",
    }
    assert (page["number"], page["subject"]) == (ticket["number"], ticket["subject"])
    assert (page["status"], page["status_label"]) == ("resolved", "Risolto")
    assert page["solution"] == "Driver della stampante aggiornato."
    assert [p["body"] for p in page["replies"]] == [
        "Abbiamo individuato il problema, lo risolviamo oggi."
    ]
    assert set(page["replies"][0]) == {"author_name", "author_role", "body", "created_at"}
    assert "Nota interna" not in r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"

    english = anonymous.get(f"/public/tickets/{token}", params={"lang": "en"}).json()
    assert english["status_label"] == "Resolved"


@pytest.mark.parametrize(
    "bad",
    [
        secrets.token_urlsafe(32),
        "x",
        "a" * 300,
        "..%2F..%2Fetc%2Fpasswd",
        "' OR 1=1 --",
    ],
)
def test_a_token_that_is_not_a_link_is_404(
    desk: Desk, mailbox: SmtpSink, db: Database, bad: str
) -> None:
    World(desk).ticket()
    dispatch(db)
    body = problem(desk.anonymous().get(f"/public/tickets/{bad}"), 404)
    assert body["status"] == 404


def test_a_nearly_right_token_is_404(desk: Desk, mailbox: SmtpSink, db: Database) -> None:
    world = World(desk)
    world.ticket()
    dispatch(db)
    token = mailed_token(mailbox, world.email)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    problem(desk.anonymous().get(f"/public/tickets/{flipped}"), 404)
    assert desk.anonymous().get(f"/public/tickets/{token}").status_code == 200


def test_the_token_is_stored_hashed_and_leaves_the_outbox_once_mailed(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    # Until the mail goes out, the outbox row holds the token to put in it ...
    queued = db.scalar("SELECT secret FROM notification WHERE kind = 'confirmation'")
    assert queued is not None
    dispatch(db)
    token = mailed_token(mailbox, world.email)
    assert token == queued
    # ... and then nothing in the database does: the link table has its SHA-256 only.
    assert db.scalar("SELECT secret FROM notification WHERE kind = 'confirmation'") is None
    stored = db.scalar(
        "SELECT token_hash FROM ticket_public_link WHERE ticket_id = :id", id=ticket["id"]
    )
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert db.scalar("SELECT count(*) FROM ticket_public_link WHERE token_hash = :t", t=token) == 0
    contexts = db.scalar(
        "SELECT count(*) FROM notification WHERE CAST(context AS TEXT) LIKE :t", t=f"%{token}%"
    )
    assert contexts == 0


def test_each_ticket_has_its_own_link(desk: Desk, mailbox: SmtpSink, db: Database) -> None:
    world = World(desk)
    first = world.ticket(subject="Primo")
    second = world.ticket(subject="Secondo")
    dispatch(db)
    pages = []
    for mail in mailbox.to(world.email):
        found = LINK.search(mail.text)
        assert found is not None
        pages.append(desk.anonymous().get(f"/public/tickets/{found.group(1)}").json()["number"])
    assert sorted(pages) == sorted([first["number"], second["number"]])


def test_the_public_page_needs_no_login_and_ignores_one(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    world.ticket()
    dispatch(db)
    token = mailed_token(mailbox, world.email)
    other_customer = desk.user("customer", customer_id=desk.customer()["id"])[0]
    # The token alone opens the page: a caller's identity neither helps nor hinders.
    assert other_customer.get(f"/public/tickets/{token}").status_code == 200
    garbage = httpx.Client(base_url=desk.base_url, headers={"Authorization": "Bearer nope"})
    with garbage:
        assert garbage.get(f"/public/tickets/{token}").status_code == 200
