"""The corpus of real-world-shaped mails (tests/data/mail/) and the desk they are sent to.

Each ``.eml`` names the tickets it answers with placeholders (``{{OPEN}}``,
``{{OPEN_THREAD}}``, ``{{OPEN_REPLY_TO}}``, ...), filled in with the numbers,
Message-IDs and reply addresses of tickets opened for the test;
``expected.json`` says what must become of each mail.
"""

from __future__ import annotations

import imaplib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.domain.inbound import reply_address, thread_id
from tests.factories import Desk

MAIL_DIR = Path(__file__).resolve().parent / "data" / "mail"
EXPECTED: dict[str, dict[str, Any]] = json.loads((MAIL_DIR / "expected.json").read_text())


@dataclass
class World:
    admin: httpx.Client
    tickets: dict[str, dict[str, Any]]
    values: dict[str, str] = field(default_factory=dict)

    def mail(self, name: str) -> bytes:
        raw = (MAIL_DIR / name).read_bytes()
        for key, value in self.values.items():
            raw = raw.replace(("{{" + key + "}}").encode(), value.encode())
        return raw


def build_world(desk: Desk) -> World:
    """Two customers (Italian and Spanish), their users, an agent, and four tickets."""
    admin = desk.admin()
    rossi = desk.customer(name="Rossi S.r.l.", locale="it")
    garcia = desk.customer(name="García S.L.", locale="es")
    r = admin.put(f"/customers/{rossi['id']}/mail-domains", json={"domains": ["rossi.example"]})
    assert r.status_code == 200, r.text
    mario = desk.customer_user(rossi, email="mario.rossi@rossi.example", name="Mario Rossi")
    lucia = desk.customer_user(garcia, email="lucia@garcia.example", name="Lucía García")
    desk.user("agent", email="anna.agente@sportello.example", name="Anna Agente")
    tickets = {
        "OPEN": desk.ticket(mario, rossi),
        "ES": desk.ticket(lucia, garcia, subject="Error al emitir la factura"),
        "CLOSED": desk.ticket(mario, rossi, subject="Old problem"),
        "CONTACT": desk.ticket(
            mario,
            rossi,
            subject="Fattura di novembre",
            contact={"email": "contabilita@rossi.example", "name": "Contabilità"},
        ),
    }
    desk.set_status(tickets["CLOSED"], "closed")
    settings = desk.settings
    values: dict[str, str] = {}
    for key, ticket in tickets.items():
        number = ticket["number"]
        values[key] = number
        values[f"{key}_THREAD"] = thread_id(number, settings.mail_domain)
        values[f"{key}_REPLY_TO"] = reply_address(
            settings.support_email, settings.inbox_secret, number
        )
    return World(admin=admin, tickets=tickets, values=values)


def received(admin: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every received mail, by Message-ID, through the admins' list (all pages)."""
    out: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        r = admin.get("/inbound/mails", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        for item in page["items"]:
            out[item["message_id"]] = item
        cursor = page["next_cursor"]
        if not cursor:
            return out


def message_id_of(raw: bytes) -> str:
    import email
    import email.policy

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return str(msg["Message-ID"]).strip()


def check(world: World, name: str, row: dict[str, Any]) -> None:
    """What ``expected.json`` says about one mail, against what the API shows."""
    exp = EXPECTED[name]
    admin = world.admin
    assert row["outcome"] == exp["outcome"], (name, row)
    if "reason_contains" in exp:
        assert exp["reason_contains"] in (row["reason"] or ""), (name, row)
    assert row["answer"] == exp.get("answer"), (name, row)
    if exp["outcome"] not in ("reply", "ticket"):
        assert row["ticket_id"] is None and row["reply_id"] is None, (name, row)
        return
    ticket = admin.get(f"/tickets/{row['ticket_id']}").json()
    if "ticket" in exp:
        assert row["ticket_id"] == world.tickets[exp["ticket"]]["id"], (name, row)
    if exp["outcome"] == "reply":
        replies = admin.get(f"/tickets/{row['ticket_id']}/replies").json()["items"]
        (reply,) = [r for r in replies if r["id"] == row["reply_id"]]
        body, files = reply["body"], [a["filename"] for a in reply["attachments"]]
        assert reply["channel"] == "email"
        if "author_role" in exp:
            assert reply["author_role"] == exp["author_role"], (name, reply)
    else:
        assert ticket["channel"] == "email", name
        body, files = ticket["description"], [a["filename"] for a in ticket["attachments"]]
        if "subject" in exp:
            assert ticket["subject"] == exp["subject"], (name, ticket["subject"])
        if "follow_up_of" in exp:
            assert ticket["parent_id"] == world.tickets[exp["follow_up_of"]]["id"], name
    for text in exp.get("body_contains", []):
        assert text in body, (name, text, body)
    for text in exp.get("body_excludes", []):
        assert text not in body, (name, text, body)
    if "files" in exp:
        assert sorted(files) == sorted(exp["files"]), (name, files)
    else:
        assert "original-mail.eml" in files, (name, files)
    if "cc" in exp:
        cc = admin.get(f"/tickets/{row['ticket_id']}/cc").json()["emails"]
        assert cc == exp["cc"], (name, cc)


def clear_inbox(host: str, port: int, user: str, password: str) -> None:
    with imaplib.IMAP4(host, port) as imap:
        imap.login(user, password)
        imap.select("INBOX")
        if _count(imap):
            imap.store("1:*", "+FLAGS", "(\\Deleted)")
            imap.expunge()


def _count(imap: imaplib.IMAP4) -> int:
    status, data = imap.search(None, "ALL")
    return len((data[0] or b"").split()) if status == "OK" else 0


def append(host: str, port: int, user: str, password: str, raws: list[bytes]) -> None:
    with imaplib.IMAP4(host, port) as imap:
        imap.login(user, password)
        for raw in raws:
            status, _ = imap.append("INBOX", None, None, raw)
            assert status == "OK"


def unseen(host: str, port: int, user: str, password: str) -> int:
    with imaplib.IMAP4(host, port) as imap:
        imap.login(user, password)
        imap.select("INBOX")
        status, data = imap.search(None, "UNSEEN")
        assert status == "OK"
        return len((data[0] or b"").split())
