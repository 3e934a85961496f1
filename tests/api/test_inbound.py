"""The e-mail channel through HTTP: who may post mail, what admins see, held mail retried,
mail domains and CC lists, and outgoing mail that can be answered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import text

from app.config import Settings
from app.db.session import make_sessionmaker
from app.domain.inbound import InboundSource
from app.infra import answers, mailparse
from app.infra.blob_stores import make_storage
from app.infra.mail import Accepted, Outcome, OutgoingMail, SmtpMailer
from app.services import inbound as inbound_service
from app.services.attachments import Uploads
from tests import samples
from tests.conftest import Database
from tests.factories import Desk, problem
from tests.smtp import SmtpSink, dispatch

RFC822 = {"content-type": "message/rfc822"}


def mail(
    sender: str,
    subject: str = "Richiesta di assistenza",
    body: str = "Il gestionale non si avvia.",
    message_id: str = "<m-1@rossi.example>",
    **headers: str,
) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return (
        f"From: {sender}\r\nTo: support@sportello.test\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def post(client: httpx.Client, raw: bytes) -> httpx.Response:
    return client.post("/inbound/mail", content=raw, headers=RFC822)


def test_only_a_mail_ingest_key_or_an_admin_may_post_mail(desk: Desk) -> None:
    raw = mail("nobody@nowhere.example")
    problem(post(desk.api_key("tickets:write"), raw), 403)
    problem(post(desk.agent(), raw), 403)
    problem(post(desk.anonymous(), raw), 401)
    assert post(desk.admin(), raw).status_code == 201
    assert post(desk.api_key("mail:ingest"), raw).status_code == 200


def test_the_body_must_be_a_bounded_rfc822_message(desk: Desk, settings: Settings) -> None:
    gate = desk.api_key("mail:ingest")
    problem(gate.post("/inbound/mail", json={"raw": "x"}), 415)
    problem(gate.post("/inbound/mail", content=b"", headers=RFC822), 400)
    big = b"x" * (settings.inbox_max_message_bytes + 1)
    problem(gate.post("/inbound/mail", content=big, headers=RFC822), 413)


def _nested(depth: int) -> bytes:
    body = "Content-Type: text/plain\r\n\r\nIl gestionale non si avvia.\r\n"
    for level in range(depth):
        body = (
            f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n"
            f"--b{level}\r\n{body}--b{level}--\r\n"
        )
    return ("From: mario.rossi@rossi.example\r\nMessage-ID: <deep@x>\r\n" + body).encode()


def test_a_malformed_mail_is_received_never_a_server_error(desk: Desk) -> None:
    """Whatever a sender writes, the mail is taken (no 500, which a mailgate would retry for
    days and the IMAP poller on every round): broken address headers, a structure nested
    past Python's recursion limit, a display name longer than a contact's name."""
    rossi = desk.customer()
    desk.customer_user(rossi, email="mario.rossi@rossi.example")
    gate = desk.api_key("mail:ingest")
    for n, (name, value) in enumerate([("To", '"'), ("Cc", "<"), ("To", "a@"), ("Cc", '"')]):
        raw = mail("mario.rossi@rossi.example", message_id=f"<broken-{n}@x>", **{name: value})
        got = post(gate, raw)
        assert got.status_code == 201, got.text
        assert got.json()["outcome"] == "ticket"
    deep = post(gate, _nested(1000))
    assert deep.status_code == 201, deep.text
    assert deep.json()["outcome"] == "ticket"
    long_name = post(gate, mail(f'"{"M" * 300}" <mario.rossi@rossi.example>', message_id="<n@x>"))
    assert long_name.status_code == 201, long_name.text
    ticket = desk.admin().get(f"/tickets/{long_name.json()['ticket_id']}").json()
    assert ticket["contact"]["name"] == "M" * 200


def test_admins_list_received_mail_by_outcome_and_retry_a_held_one(desk: Desk) -> None:
    rossi = desk.customer()
    mario = desk.customer_user(rossi, email="mario.rossi@rossi.example")
    desk.user("agent", email="anna@sportello.example", name="Anna")
    ticket = desk.ticket(mario, rossi)
    gate = desk.api_key("mail:ingest")
    spoofed = mail(
        "anna@sportello.example",
        subject=f"Re: [{ticket['number']}] Nuova risposta",
        body="Risolto, chiudo.",
        message_id="<held-1@evil.example>",
    )
    held = post(gate, spoofed).json()
    assert held["outcome"] == "held" and held["ticket_id"] is None
    assert post(gate, mail("stranger@nowhere.example")).json()["outcome"] == "refused"

    admin = desk.admin()
    listed = admin.get("/inbound/mails", params={"outcome": "held"}).json()
    assert [m["id"] for m in listed["items"]] == [held["id"]]
    page = admin.get("/inbound/mails", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    problem(mario.get("/inbound/mails"), 403)
    problem(desk.agent().post(f"/inbound/mails/{held['id']}/retry"), 403)

    retried = admin.post(f"/inbound/mails/{held['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcome"] == "reply"
    assert retried.json()["ticket_number"] == ticket["number"]
    replies = admin.get(f"/tickets/{ticket['id']}/replies").json()["items"]
    assert [(r["author_role"], r["body"]) for r in replies] == [("agent", "Risolto, chiudo.")]
    problem(admin.post(f"/inbound/mails/{held['id']}/retry"), 409)
    problem(admin.post("/inbound/mails/999999/retry"), 404)


def test_a_customer_reply_by_mail_wakes_a_waiting_ticket(desk: Desk) -> None:
    rossi = desk.customer()
    mario = desk.customer_user(rossi, email="mario.rossi@rossi.example")
    agent = desk.agent()
    ticket = desk.ticket(mario, rossi)
    desk.move(agent, ticket, "waiting_customer")
    raw = mail(
        "Mario <mario.rossi@rossi.example>",
        subject=f"Re: [{ticket['number']}] Cambio di stato",
        body="Ecco i dati richiesti.",
    )
    got = post(desk.api_key("mail:ingest"), raw).json()
    assert got["outcome"] == "reply"
    assert mario.get(f"/tickets/{ticket['id']}").json()["status"] == "in_progress"
    events = mario.get(f"/tickets/{ticket['id']}/events").json()["items"]
    replied = [e for e in events if e["kind"] == "replied"]
    assert replied[0]["channel"] == "email"
    created = [e for e in events if e["kind"] == "created"]
    assert created[0]["channel"] == "portal"


def test_tickets_say_which_channel_they_came_by(desk: Desk) -> None:
    rossi = desk.customer()
    key = desk.api_key("tickets:write", "tickets:read")
    by_key = desk.ticket(key, rossi, contact={"email": "ops@rossi.example"})
    assert by_key["channel"] == "api"
    assert desk.ticket(desk.customer_user(rossi), rossi)["channel"] == "portal"


def test_mail_domains_of_customers(desk: Desk) -> None:
    admin = desk.admin()
    rossi, bianchi = desk.customer(), desk.customer()
    r = admin.put(
        f"/customers/{rossi['id']}/mail-domains", json={"domains": ["Rossi.example", "@rossi.it"]}
    )
    assert r.json() == {"domains": ["rossi.example", "rossi.it"]}
    assert admin.get(f"/customers/{rossi['id']}/mail-domains").json()["domains"] == [
        "rossi.example",
        "rossi.it",
    ]
    problem(
        admin.put(f"/customers/{bianchi['id']}/mail-domains", json={"domains": ["rossi.it"]}), 409
    )
    problem(
        admin.put(f"/customers/{bianchi['id']}/mail-domains", json={"domains": ["not a domain"]}),
        422,
    )
    problem(desk.customer_user(rossi).get(f"/customers/{rossi['id']}/mail-domains"), 403)
    problem(admin.get("/customers/999999/mail-domains"), 404)


def _outgoing(mailbox: SmtpSink, db: Database, to: str) -> Any:
    dispatch(db)
    return mailbox.one_to(to)


def test_notifications_can_be_answered_and_the_answer_threads(
    desk: Desk, db: Database, mailbox: SmtpSink, settings: Settings
) -> None:
    rossi = desk.customer(locale="es")
    mario = desk.customer_user(rossi, email="mario.rossi@rossi.example")
    agent = desk.agent()
    ticket = desk.ticket(mario, rossi)
    dispatch(db)
    mailbox.clear()
    desk.reply(agent, ticket, body="Pruebe a reiniciar el servicio.")
    sent = _outgoing(mailbox, db, "mario.rossi@rossi.example").message
    assert f"[{ticket['number']}]" in str(sent["Subject"])
    assert str(sent["Reply-To"]).startswith("desk+" + ticket["number"].lower() + ".")
    assert str(sent["References"]) == f"<ticket-{ticket['number']}@sportello.example>"
    text = sent.get_body(("plain",)).get_content()
    assert text.startswith("##- Escriba su respuesta encima de esta línea -##")

    # The customer's client answers: To the Reply-To address, quoting our mail.
    answer = (
        f"From: Mario <mario.rossi@rossi.example>\r\nTo: {sent['Reply-To']}\r\n"
        "Subject: Re: no number here\r\nMessage-ID: <answer-from-mario@rossi.example>\r\n"
        f"In-Reply-To: {sent['Message-ID']}\r\nReferences: {sent['References']}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nYa funciona, gracias.\r\n\r\n"
        "> ##- Escriba su respuesta encima de esta línea -##\r\n> Pruebe a reiniciar.\r\n"
    ).encode()
    got = post(desk.api_key("mail:ingest"), answer).json()
    assert got["outcome"] == "reply" and got["ticket_id"] == ticket["id"]
    replies = agent.get(f"/tickets/{ticket['id']}/replies").json()["items"]
    assert replies[-1]["body"] == "Ya funciona, gracias."


def test_a_mail_costly_to_read_is_taken_in_bounded_time(desk: Desk) -> None:
    """Reading a mail costs time per MIME part (some 0.6 ms each) and per byte of HTML
    (tables: some 4 s a MiB), on the API's event loop: a few MiB from any sender froze the
    API for a minute. A mail of thousands of parts is taken with its headers only (the
    original kept), and only the start of a huge HTML part is made text."""
    rossi = desk.customer()
    desk.customer_user(rossi, email="mario.rossi@rossi.example")
    gate = desk.api_key("mail:ingest")
    head = (
        "From: mario.rossi@rossi.example\r\nTo: support@sportello.test\r\n"
        "Subject: Tante parti\r\nMessage-ID: <{}@rossi.example>\r\n"
    )
    parts = "".join(f"--B\r\nContent-Type: text/plain\r\n\r\nx{n}\r\n" for n in range(80_000))
    many = (
        head.format("many-parts") + "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        f"{parts}--B--\r\n"
    ).encode()
    table = "<table>" + "<tr><td>cella</td></tr>" * 250_000 + "</table>"
    html = (
        head.format("big-html") + "Content-Type: text/html; charset=utf-8\r\n\r\n"
        f"<p>La stampa non parte.</p>{table}\r\n"
    ).encode()
    # Headers too: the standard parser's cost grows faster than their length.
    subject = (head.format("long-subject").replace("Tante parti", "parola " * 400_000)).encode()
    subject += b"Content-Type: text/plain\r\n\r\nLa stampa non parte.\r\n"
    lines = head.format("many-headers") + "To: support@sportello.test\r\n" * 100_000
    headers = (lines + "Content-Type: text/plain\r\n\r\nLa stampa non parte.\r\n").encode()
    part = (
        "--B\r\nContent-Type: image/png\r\n"
        f'Content-Disposition: attachment; filename="{"a " * 100_000}"\r\n\r\nxx\r\n'
    )
    named = (
        head.format("long-names") + "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        f"{part * 5}--B--\r\n"
    ).encode()
    for raw in (subject, headers, named, many, html):
        got = gate.post("/inbound/mail", content=raw, headers=RFC822, timeout=120)
        assert got.status_code == 201, got.text
        assert got.json()["outcome"] == "ticket"
    ticket = desk.admin().get(f"/tickets/{got.json()['ticket_id']}").json()
    assert ticket["description"].startswith("La stampa non parte.")
    # What bounds the cost (not timed here: speed is the benchmarks' business): the mail of
    # 80,000 parts is read for its headers only, the huge HTML part only in its start, the
    # header section only up to its bound.
    parts_read = mailparse.parse(many)
    assert parts_read.facts.subject == "Tante parti"
    assert (parts_read.full_text, parts_read.files) == ("", [])
    assert len(mailparse.parse(html).full_text) <= mailparse.MAX_BODY_CHARS
    assert len(mailparse.parse(subject).facts.subject) <= mailparse.MAX_HEADER_CHARS
    assert len(mailparse.parse(named).files) <= 5


def test_control_characters_in_a_mail_are_not_kept(desk: Desk) -> None:
    """The API refuses control characters in every text (and PostgreSQL cannot store NUL);
    a mail is not refused for them, they are left out: in an encoded subject or display
    name, and in a quoted-printable body."""
    rossi = desk.customer()
    desk.customer_user(rossi, email="mario.rossi@rossi.example")
    raw = (
        b"From: =?utf-8?q?Mario=00_=1B[31mRossi?= <mario.rossi@rossi.example>\r\n"
        b"To: support@sportello.test\r\nSubject: =?utf-8?q?Stampa=00_ferma=07?=\r\n"
        b"Message-ID: <nul-1@rossi.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nNon parte=00 la stampa=1B.\r\n"
    )
    got = post(desk.api_key("mail:ingest"), raw)
    assert got.status_code == 201, got.text
    assert got.json()["outcome"] == "ticket"
    assert got.json()["subject"] == "Stampa ferma"
    ticket = desk.admin().get(f"/tickets/{got.json()['ticket_id']}").json()
    assert ticket["subject"] == "Stampa ferma"
    assert ticket["description"] == "Non parte la stampa."
    assert ticket["contact"]["name"] == "Mario [31mRossi"


def test_a_cc_address_longer_than_any_address_is_not_put_on_the_ticket(desk: Desk) -> None:
    """Cc addresses within the customer's domains join the ticket; one longer than an address
    can be (it would not fit its column: a 500 on PostgreSQL, and the mail never taken) is
    left out, and the mail is taken with the others."""
    admin = desk.admin()
    rossi = desk.customer()
    admin.put(f"/customers/{rossi['id']}/mail-domains", json={"domains": ["rossi.example"]})
    desk.customer_user(rossi, email="mario.rossi@rossi.example")
    long = "l" * 400 + "@rossi.example"
    raw = mail("mario.rossi@rossi.example", Cc=f"{long}, giulia@rossi.example")
    got = post(desk.api_key("mail:ingest"), raw)
    assert got.status_code == 201, got.text
    ticket_id = got.json()["ticket_id"]
    assert admin.get(f"/tickets/{ticket_id}/cc").json()["emails"] == ["giulia@rossi.example"]


def test_cc_addresses_receive_public_updates(desk: Desk, db: Database, mailbox: SmtpSink) -> None:
    admin = desk.admin()
    rossi = desk.customer()
    admin.put(f"/customers/{rossi['id']}/mail-domains", json={"domains": ["rossi.example"]})
    mario = desk.customer_user(rossi, email="mario.rossi@rossi.example")
    agent = desk.agent()
    ticket = desk.ticket(mario, rossi)
    problem(mario.put(f"/tickets/{ticket['id']}/cc", json={"emails": ["x@outside.example"]}), 422)
    r = mario.put(f"/tickets/{ticket['id']}/cc", json={"emails": ["giulia@rossi.example"]})
    assert r.status_code == 200 and r.json()["emails"] == ["giulia@rossi.example"]
    other = desk.customer_user(desk.customer())
    problem(other.get(f"/tickets/{ticket['id']}/cc"), 404)
    dispatch(db)
    mailbox.clear()
    desk.reply(agent, ticket, body="Risposta per tutti.")
    desk.reply(agent, ticket, body="Nota interna.", visibility="internal")
    dispatch(db)
    assert len(mailbox.to("giulia@rossi.example")) == 1
    assert "Risposta per tutti." in mailbox.one_to("giulia@rossi.example").text


def _receive(db: Database, settings: Settings, raw: bytes) -> Any:
    async def go() -> Any:
        uploads = Uploads(make_storage(settings), max_files=2, max_bytes=10**6)
        async with make_sessionmaker(db.engine, settings).begin() as session:
            received = await inbound_service.receive(
                session, settings, raw, source=InboundSource.API, uploads=uploads
            )
        await uploads.close(failed=False)
        return received.mail

    return db.run(go())


def test_unknown_senders_open_tickets_by_mail_domain_when_the_policy_says_so(
    desk: Desk, db: Database, settings: Settings
) -> None:
    rossi = desk.customer()
    desk.admin().put(f"/customers/{rossi['id']}/mail-domains", json={"domains": ["rossi.example"]})
    by_domain = settings.model_copy(update={"inbox_unknown_sender": "domain"})
    row = _receive(db, by_domain, mail("Luca <luca@rossi.example>", message_id="<d-1@x>"))
    assert row.outcome == "ticket"
    ticket = desk.admin().get(f"/tickets/{row.ticket_id}").json()
    assert ticket["customer_id"] == rossi["id"] and ticket["requester_id"] is None
    assert ticket["contact"]["email"] == "luca@rossi.example"
    row = _receive(db, by_domain, mail("x@elsewhere.example", message_id="<d-2@x>"))
    assert row.outcome == "refused" and row.answer_kind == "unknown_sender"
    # The default policy bounces them.
    row = _receive(db, settings, mail("luca@rossi.example", message_id="<d-3@x>"))
    assert row.outcome == "refused"


def test_a_sender_opens_at_most_n_tickets_an_hour(
    desk: Desk, db: Database, settings: Settings
) -> None:
    rossi = desk.customer()
    desk.customer_user(rossi, email="mario.rossi@rossi.example")
    capped = settings.model_copy(update={"inbox_max_tickets_per_hour": 2})
    outcomes = [
        _receive(db, capped, mail("mario.rossi@rossi.example", message_id=f"<cap-{n}@x>")).outcome
        for n in range(3)
    ]
    assert outcomes == ["ticket", "ticket", "refused"]
    assert db.scalar("SELECT count(*) FROM ticket") == 2


def test_a_public_replys_files_travel_with_its_mail_or_as_links(
    desk: Desk, db: Database, mailbox: SmtpSink, settings: Settings
) -> None:
    rossi = desk.customer()
    mario = desk.customer_user(rossi, email="mario.rossi@rossi.example")
    agent = desk.agent()
    ticket = desk.ticket(mario, rossi)
    dispatch(db)
    mailbox.clear()
    image = samples.png("schema")

    def reply(body: str) -> None:
        r = agent.post(
            f"/tickets/{ticket['id']}/replies",
            data={"payload": json.dumps({"body": body, "visibility": "public"})},
            files={"files": ("schema.png", image, "image/png")},
        )
        assert r.status_code == 201, r.text

    reply("Ecco lo schema.")
    dispatch(db)
    sent = mailbox.one_to("mario.rossi@rossi.example")
    (attached,) = list(sent.message.iter_attachments())
    assert attached.get_filename() == "schema.png"
    assert attached.get_content() == image
    assert "/api/v1/attachments/" in sent.text

    mailbox.clear()
    reply("Di nuovo lo schema.")
    dispatch(db, settings.model_copy(update={"mail_attachments_max_bytes": len(image) - 1}))
    sent = mailbox.one_to("mario.rossi@rossi.example")
    assert list(sent.message.iter_attachments()) == []
    assert "schema.png: http://sportello.test/api/v1/attachments/" in sent.text


def test_each_answer_is_recorded_as_sent_as_soon_as_the_server_takes_it(
    db: Database, settings: Settings, mailbox: SmtpSink
) -> None:
    """As the outbox's notifications: a worker killed mid-batch sends again only the answer
    in flight, not those the server had already taken."""
    for n in range(3):
        row = _receive(db, settings, mail(f"x{n}@elsewhere.example", message_id=f"<a-{n}@x>"))
        assert row.answer_kind == "unknown_sender"
    recorded: list[str] = []

    class Watched(SmtpMailer):
        """The real mailer; after each mail the server took, the row is read back."""

        async def deliver(
            self, mails: Sequence[OutgoingMail], on_accepted: Accepted | None = None
        ) -> list[Outcome]:
            async def taken(index: int) -> None:
                assert on_accepted is not None
                await on_accepted(index)
                answer_id = int(mails[index].message_id.split("-")[1].split(".")[0])
                async with db.sessions() as session:
                    status = await session.scalar(
                        text("SELECT answer_status FROM inbound_mail WHERE id = :id"),
                        {"id": answer_id},
                    )
                recorded.append(str(status))

            return await super().deliver(mails, taken)

    assert db.run(answers.dispatch(db.sessions, db.settings, Watched(db.settings))) == 3
    assert recorded == ["sent", "sent", "sent"]
    assert sorted(to for m in mailbox.messages for to in m.envelope_to) == [
        f"x{n}@elsewhere.example" for n in range(3)
    ]
