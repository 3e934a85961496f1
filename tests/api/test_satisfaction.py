"""How did we do?: the resolution mail's link, the status page, the answer, the bad-rating mail."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from tests.api.test_notifications import World, move, problem
from tests.api.test_public_link import mailed_token
from tests.conftest import Database
from tests.factories import Desk
from tests.smtp import SmtpSink, dispatch

ASK = re.compile(r"http://sportello\.test/api/v1/public/satisfaction/([A-Za-z0-9_-]+)")


def resolved_token(mailbox: SmtpSink, address: str) -> str:
    [mail] = [m for m in mailbox.to(address) if ASK.search(m.text)]
    found = ASK.search(mail.text)
    assert found is not None
    assert f'href="{found.group(0)}"' in mail.html
    return found.group(1)


def test_the_resolution_mail_asks_and_the_answer_reaches_the_ticket(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    move(world.agent, ticket, "resolved", solution="Driver aggiornato.")
    dispatch(db)
    token = resolved_token(mailbox, world.email)
    # Stored hashed only, and wiped from the mail's row once delivered.
    assert (
        db.scalar(
            "SELECT count(*) FROM ticket_satisfaction WHERE token_hash = :h",
            h=hashlib.sha256(token.encode()).hexdigest(),
        )
        == 1
    )
    assert db.scalar("SELECT count(*) FROM notification WHERE secret IS NOT NULL") == 0

    anonymous = desk.anonymous()
    question = anonymous.get(f"/public/satisfaction/{token}")
    assert question.status_code == 200, question.text
    assert question.headers["cache-control"] == "no-store"
    assert question.json()["asked"] is True and question.json()["rating"] is None

    r = anonymous.post(f"/public/satisfaction/{token}", json={"rating": "good"})
    assert r.status_code == 200, r.text
    assert r.json()["rating"] == "good"
    # Changeable until closed: one answer per ticket, the last one counts.
    r = anonymous.post(
        f"/public/satisfaction/{token}", json={"rating": "bad", "comment": "Troppo lento."}
    )
    assert r.json()["rating"] == "bad" and r.json()["comment"] == "Troppo lento."
    assert db.scalar("SELECT count(*) FROM ticket_satisfaction") == 1

    seen = world.agent.get(f"/tickets/{ticket['id']}/satisfaction")
    assert seen.status_code == 200, seen.text
    assert (seen.json()["rating"], seen.json()["comment"]) == ("bad", "Troppo lento.")
    events = world.agent.get(f"/tickets/{ticket['id']}/events").json()
    items = events["items"] if isinstance(events, dict) else events
    assert [e["note"] for e in items if e["kind"] == "satisfaction_rated"] == ["good", "bad"]
    # The customer does not read the staff's view of it.
    problem(world.client.get(f"/tickets/{ticket['id']}/satisfaction"), 403)

    # The bad rating is mailed to the desk (the ticket has no team), with the comment.
    dispatch(db)
    [bad] = [m for m in mailbox.to("desk@sportello.test") if "negativa" in m.subject]
    assert "Troppo lento." in bad.text

    move(world.agent, ticket, "closed")
    problem(anonymous.post(f"/public/satisfaction/{token}", json={"rating": "good"}), 409)
    assert anonymous.get(f"/public/satisfaction/{token}").json()["changeable"] is False


def test_the_status_page_asks_too_and_bad_links_are_404(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    dispatch(db)
    status_token = mailed_token(mailbox, world.email)
    anonymous = desk.anonymous()
    page = anonymous.get(f"/public/tickets/{status_token}/satisfaction")
    assert page.status_code == 200 and page.json()["asked"] is False
    problem(
        anonymous.post(f"/public/tickets/{status_token}/satisfaction", json={"rating": "good"}),
        409,
    )
    move(world.agent, ticket, "resolved", solution="Fatto.")
    r = anonymous.post(f"/public/tickets/{status_token}/satisfaction", json={"rating": "good"})
    assert r.status_code == 200, r.text
    assert r.json()["rating"] == "good"
    problem(anonymous.get("/public/satisfaction/" + "x" * 43), 404)
    problem(anonymous.post(f"/public/satisfaction/{status_token}", json={"rating": "good"}), 404)
    problem(
        anonymous.post(f"/public/tickets/{status_token}/satisfaction", json={"rating": "meh"}),
        422,
    )
    problem(
        anonymous.post(
            f"/public/tickets/{status_token}/satisfaction",
            json={"rating": "bad", "comment": "x" * 2001},
        ),
        422,
    )
    # An expired question is not found.
    dispatch(db)
    token = resolved_token(mailbox, world.email)
    past = datetime.now(UTC) - timedelta(seconds=1)
    db.execute("UPDATE ticket_satisfaction SET expires_at = :t", t=desk.db_time(past))
    problem(anonymous.get(f"/public/satisfaction/{token}"), 404)
