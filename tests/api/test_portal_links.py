"""Links that land in the portal: every mail links to the ticket's portal page, and the
public status link opened in a real browser shows a readable page in each language."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.test_notifications import World, move, reply
from tests.conftest import Database
from tests.factories import Desk
from tests.smtp import SmtpSink, dispatch

PORTAL = "https://help.example.com/tickets/{id}?n={number}"
STATUS = "https://help.example.com/t/{token}"


def test_every_mail_links_to_the_ticket_in_the_portal(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    ticket = world.ticket()
    reply(world.agent, ticket, "Abbiamo individuato il problema.")
    reply(world.client, ticket, "Grazie, attendo.")
    move(world.agent, ticket, "resolved", solution="Driver aggiornato.")
    reply(world.client, ticket, "Il problema si ripresenta.")  # reopens it
    settings = db.settings.model_copy(
        update={"portal_ticket_url": PORTAL, "public_status_url": STATUS}
    )
    dispatch(db, settings)
    page = f"https://help.example.com/tickets/{ticket['id']}?n={ticket['number']}"
    kinds = db.scalar("SELECT count(DISTINCT kind) FROM notification")
    assert kinds >= 5 and len(mailbox.messages) >= 6
    for message in mailbox.messages:
        assert page in message.text, message.subject
        assert f'href="{page}"' in message.html, message.subject
    # The confirmation's status link is the portal's public page, with the token.
    [confirmation] = [m for m in mailbox.to(world.email) if "Ticket ricevuto" in m.subject]
    assert re.search(r"https://help\.example\.com/t/[A-Za-z0-9_-]{43,}", confirmation.text)


def test_without_portal_settings_mails_carry_no_portal_line(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    world.ticket()
    dispatch(db)
    for message in mailbox.messages:
        assert "portale" not in message.text and "help.example.com" not in message.text


def test_url_templates_are_checked_at_start() -> None:
    from pydantic import ValidationError

    from app.config import Settings

    for bad in ("help.example.com/{id}", "https://help.example.com/", "https://h/{id}/{user}"):
        with pytest.raises(ValidationError, match="SPORTELLO_PORTAL_TICKET_URL"):
            Settings(portal_ticket_url=bad, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="SPORTELLO_PUBLIC_STATUS_URL"):
        Settings(public_status_url="https://h/{id}", _env_file=None)  # type: ignore[call-arg]


# --- the public status page in a browser ---------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

SEEN = {
    "it": ("Stato", "Risolto", "Soluzione", "Risposte"),
    "es": ("Estado", "Resuelto", "Solución", "Respuestas"),
    "en": ("Status", "Resolved", "Solution", "Replies"),
}


def _command(url: str, profile: Path, *extra: str) -> list[str]:
    assert CHROMIUM is not None
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        "--dump-dom",
        *extra,
        url,
    ]


def _browse(commands: dict[str, list[str]]) -> dict[str, tuple[int, str, str]]:
    """Run the browsers side by side (each is mostly start-up time); their exit, DOM, log."""
    running = {
        key: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for key, cmd in commands.items()
    }
    done = {}
    for key, process in running.items():
        out, err = process.communicate(timeout=90)
        done[key] = (process.returncode, out, err)
    return done


def _visible_text(dom: str) -> str:
    body = dom.split("<body>", 1)[-1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by .ci/run")
def test_the_public_link_in_a_browser_is_a_readable_page_in_each_language(
    desk: Desk, mailbox: SmtpSink, db: Database, live_server: str, tmp_path: Path
) -> None:
    world = World(desk, locale="es")
    ticket = world.ticket(subject="La impresora <b>no</b> imprime")
    reply(world.agent, ticket, "Nota interna: non mostrare.", "internal")
    reply(world.agent, ticket, "Hemos encontrado el problema.")
    move(world.agent, ticket, "resolved", solution="Controlador actualizado.")
    dispatch(db)
    [confirmation] = [m for m in mailbox.to(world.email) if "Ticket recibido" in m.subject]
    found = re.search(r"/api/v1/public/tickets/([A-Za-z0-9_-]+)", confirmation.text)
    assert found is not None, confirmation.text
    url = f"{live_server}/api/v1/public/tickets/{found.group(1)}"

    # The browser's language decides (Spanish, Italian); ?lang decides over it (English).
    pages = _browse(
        {
            "es": _command(url, tmp_path / "es", "--accept-lang=es"),
            "it": _command(url, tmp_path / "it", "--accept-lang=it"),
            "en": _command(f"{url}?lang=en", tmp_path / "en", "--accept-lang=it"),
        }
    )
    for lang, (code, dom, log) in pages.items():
        assert code == 0, log[-2000:]
        text = _visible_text(dom)
        status, resolved, solution, replies = SEEN[lang]
        assert f"{status}: {resolved}" in text, text
        assert f"{solution} Controlador actualizado." in text, text
        assert replies in text and "Hemos encontrado el problema." in text, text
        assert ticket["number"] in text
        # The subject is shown as typed, not as markup; nothing internal is there.
        assert "La impresora <b>no</b> imprime" in dom.replace("&lt;", "<").replace("&gt;", ">")
        assert "<b>no</b>" not in dom
        assert "Nota interna" not in text
        assert f'<html lang="{lang}">' in dom
        # The strict policy lets the page's own style through and refuses nothing of it.
        assert "Content Security Policy" not in log, log[-2000:]


def test_the_public_page_answers_html_only_to_browsers(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    world = World(desk)
    world.ticket()
    dispatch(db)
    [confirmation] = [m for m in mailbox.to(world.email) if "Ticket ricevuto" in m.subject]
    found = re.search(r"/api/v1/public/tickets/([A-Za-z0-9_-]+)", confirmation.text)
    assert found is not None
    anonymous = desk.anonymous()
    path = f"/public/tickets/{found.group(1)}"
    assert anonymous.get(path).headers["content-type"] == "application/json"
    page = anonymous.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-language"] == "it"
    assert "<script" not in page.text
