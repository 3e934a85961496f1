"""Every mail of the corpus, through both ways in: the mailgate command and the IMAP inbox.

The same mails must end the same way whichever way they came: a reply on the
right ticket with the quoted history cut, a new ticket, a refusal answered, a
held staff mail, or noise ignored (expected.json).
"""

from __future__ import annotations

import io
import sys

import pytest

from app import cli
from app.infra import answers
from tests import imapd
from tests.conftest import Database
from tests.factories import Desk
from tests.imapd import imap_settings, poll
from tests.mailcorpus import EXPECTED, append, build_world, check, message_id_of
from tests.mailcorpus import received as received_mails
from tests.mailcorpus import unseen as unseen_count
from tests.smtp import SmtpSink

NAMES = sorted(EXPECTED)


def mailgate(monkeypatch: pytest.MonkeyPatch, live_server: str, key: str, raw: bytes) -> int:
    monkeypatch.setenv("SPORTELLO_MAILGATE_KEY", key)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    return cli.main(["mailgate", "--url", live_server])


def test_the_corpus_is_big_and_varied() -> None:
    assert len(NAMES) >= 20
    outcomes = {e["outcome"] for e in EXPECTED.values()}
    assert outcomes == {"reply", "ticket", "refused", "held", "ignored"}


def test_every_mail_of_the_corpus_through_the_mailgate(
    desk: Desk,
    db: Database,
    live_server: str,
    monkeypatch: pytest.MonkeyPatch,
    mailbox: SmtpSink,
) -> None:
    world = build_world(desk)
    r = desk.admin().post("/api-keys", json={"name": "mailgate", "scopes": ["mail:ingest"]})
    key = r.json()["key"]
    raws = {name: world.mail(name) for name in NAMES}
    for name in NAMES:
        assert mailgate(monkeypatch, live_server, key, raws[name]) == 0, name
    rows = received_mails(world.admin)
    assert len(rows) == len(NAMES)
    for name in NAMES:
        row = rows[message_id_of(raws[name])]
        assert row["source"] == "mailgate"
        check(world, name, row)
    # The same mail piped again (an MTA retrying) is not imported twice.
    assert mailgate(monkeypatch, live_server, key, raws["new_ticket_customer_en.eml"]) == 0
    assert len(received_mails(world.admin)) == len(NAMES)
    assert (
        db.scalar("SELECT count(*) FROM ticket WHERE subject = 'Cannot export the VAT register'")
        == 1
    )

    # The answers: the unknown sender's bounce in Spanish, the refused file in Italian.
    db.run(answers.dispatch(db.sessions, db.settings))
    bounce = mailbox.one_to("pedro@desconocido.example")
    assert bounce.message["Auto-Submitted"] == "auto-generated"
    assert bounce.message["In-Reply-To"] == "<unknown-0001@desconocido.example>"
    assert "no se ha abierto ningún ticket" in bounce.text
    refused = mailbox.one_to("mario.rossi@rossi.example")
    assert world.tickets["OPEN"]["number"] in refused.subject
    assert "diagnostica.exe: un tipo di file non accettato" in refused.text
    # Our answer, come back to us, is recognised as ours and not imported.
    assert mailgate(monkeypatch, live_server, key, bytes(refused.message)) == 0
    assert received_mails(world.admin)[refused.message_id]["outcome"] == "ignored"


def test_every_mail_of_the_corpus_through_the_imap_inbox(
    desk: Desk, db: Database, inbox: imapd.Dovecot
) -> None:
    world = build_world(desk)
    raws = {name: world.mail(name) for name in NAMES}
    append("127.0.0.1", inbox.port, imapd.USER, imapd.PASSWORD, [raws[n] for n in NAMES])
    settings = imap_settings(db, inbox)
    assert poll(db, settings) == len(NAMES)
    assert unseen_count("127.0.0.1", inbox.port, imapd.USER, imapd.PASSWORD) == 0
    rows = received_mails(world.admin)
    assert len(rows) == len(NAMES)
    for name in NAMES:
        row = rows[message_id_of(raws[name])]
        assert row["source"] == "imap"
        check(world, name, row)
    assert poll(db, settings) == 0


def test_the_mailgate_asks_the_mta_to_retry_when_the_api_cannot_take_the_mail(
    desk: Desk, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = b"From: a@b.example\r\nSubject: x\r\nMessage-ID: <gate-1@b.example>\r\n\r\nciao\r\n"
    assert mailgate(monkeypatch, live_server, "not-a-key", raw) == cli.EX_TEMPFAIL
    key = desk.admin().post("/api-keys", json={"name": "g", "scopes": ["mail:ingest"]})
    down = "http://127.0.0.1:9"
    monkeypatch.setenv("SPORTELLO_MAILGATE_KEY", key.json()["key"])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert cli.main(["mailgate", "--url", down, "--timeout", "5"]) == cli.EX_TEMPFAIL
    assert mailgate(monkeypatch, live_server, key.json()["key"], raw) == 0
