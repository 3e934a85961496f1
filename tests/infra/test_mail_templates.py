"""Every mail renders in every language, names the ticket, escapes what users wrote."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings, SettingsError, load_settings
from app.domain.notifications import NotificationKind
from app.domain.tickets import TicketStatus, label
from app.infra.mail import OutgoingMail, build_message, message_id, render

CONTEXTS: dict[str, dict[str, Any]] = {
    "confirmation": {
        "description": "Dal mattino la stampa delle fatture si blocca.",
        "type": "technical",
        "severity": "blocking",
        "contact_email": "mario@example.com",
        "contact_phone": None,
        "contact_channel": "email",
    },
    "new_ticket": {
        "description": "Dal mattino la stampa delle fatture si blocca.",
        "type": "order",
        "severity": "normal",
        "contact_email": "mario@example.com",
        "contact_phone": "+39 0541 000111",
        "contact_channel": "phone",
    },
    "status_changed": {
        "from_status": "in_progress",
        "to_status": "resolved",
        "solution": "Aggiornare il driver della stampante.",
        "note": None,
        "author_name": "Ada",
    },
    "sla_warning": {"target": "first_response", "due_at": "2026-11-30T08:30:00+00:00"},
    "sla_breached": {"target": "resolution", "due_at": "2026-11-30T08:30:00+00:00"},
    "satisfaction_bad": {"comment": "Risposta troppo lenta."},
    "agent_reply": {"author_name": "Ada", "body": "Può inviarci una schermata?", "reopened": False},
    "customer_reply": {"author_name": "Mario", "body": "Ecco la schermata.", "reopened": True},
    "reopened": {
        "from_status": "resolved",
        "to_status": "open",
        "solution": None,
        "note": "Il problema si ripresenta.",
        "author_name": "Mario",
    },
    "closed": {
        "from_status": "in_progress",
        "to_status": "closed",
        "solution": None,
        "note": "Non serve più.",
        "author_name": "Mario",
    },
}
TICKET_KINDS = [k.value for k in NotificationKind if k is not NotificationKind.EMAIL_CHANGE]
SUBJECT = "Fatture <script>alert(1)</script> & stampe"


def context(kind: str) -> dict[str, Any]:
    return {
        "number": "T-2026-000123",
        "subject": SUBJECT,
        "status": "open",
        "customer_code": "ACME",
        "customer_name": "ACME S.r.l.",
        "contact_name": "Mario Rossi",
        **CONTEXTS[kind],
    }


@pytest.mark.parametrize("locale", ["it", "es", "en"])
@pytest.mark.parametrize("kind", TICKET_KINDS)
def test_every_mail_renders_naming_number_and_subject(kind: str, locale: str) -> None:
    rendered = render(kind, locale, context(kind), link="http://sportello.test/x")
    assert rendered.subject.startswith("[T-2026-000123] ")
    assert rendered.subject.endswith(": " + SUBJECT)
    assert "T-2026-000123" in rendered.text and SUBJECT in rendered.text
    assert "T-2026-000123" in rendered.html
    # The HTML part escapes what a user wrote; the text part keeps it as written.
    assert "<script>" not in rendered.html
    assert "Fatture &lt;script&gt;alert(1)&lt;/script&gt; &amp; stampe" in rendered.html
    assert f'<html lang="{locale}">' in rendered.html


@pytest.mark.parametrize(
    ("locale", "phrase", "sentence"),
    [
        ("it", "Ticket ricevuto", "vi confermiamo l'avvenuta apertura del ticket T-2026-000123"),
        ("es", "Ticket recibido", "le confirmamos la apertura del ticket T-2026-000123"),
        ("en", "Ticket received", "confirms that ticket T-2026-000123 has been opened"),
    ],
)
def test_the_confirmation_speaks_the_customers_language_and_carries_the_link(
    locale: str, phrase: str, sentence: str
) -> None:
    rendered = render("confirmation", locale, context("confirmation"), link="http://s.test/t/abc")
    assert rendered.subject == f"[T-2026-000123] {phrase}: {SUBJECT}"
    assert sentence in rendered.text
    assert "http://s.test/t/abc" in rendered.text
    assert '<a href="http://s.test/t/abc">' in rendered.html


@pytest.mark.parametrize("locale", ["it", "es", "en"])
def test_a_status_mail_uses_the_labels_of_meta_statuses_and_gives_the_solution(
    locale: str,
) -> None:
    rendered = render("status_changed", locale, context("status_changed"))
    old, new = label(TicketStatus.IN_PROGRESS, locale), label(TicketStatus.RESOLVED, locale)
    assert new in rendered.subject
    assert old in rendered.text and new in rendered.text
    assert "Aggiornare il driver della stampante." in rendered.text
    assert "Aggiornare il driver della stampante." in rendered.html


def test_a_subject_cannot_inject_headers() -> None:
    ctx = {**context("agent_reply"), "subject": "Ciao\r\nBcc: victim@example.com"}
    rendered = render("agent_reply", "it", ctx)
    settings = Settings(mail_from="sportello@sportello.example", _env_file=None)  # type: ignore[call-arg]
    mail = OutgoingMail(
        message_id=message_id(7, 1_700_000_000, settings.mail_from),
        recipient="mario@example.com",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )
    message = build_message(mail, settings)
    assert message["Bcc"] is None
    assert "\n" not in str(message["Subject"])
    assert message.get_all("Message-ID") == ["<notification-7.1700000000@sportello.example>"]
    assert message["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(
    ("fields", "variable"),
    [
        ({"mail_server": "smtp.example.com", "mail_from": "sportello@localhost"}, "MAIL_FROM"),
        ({"mail_from": "not an address"}, "MAIL_FROM"),
        ({"support_email": "desk"}, "SUPPORT_EMAIL"),
        ({"public_base_url": "sportello.example.com"}, "PUBLIC_BASE_URL"),
    ],
)
def test_bad_mail_settings_stop_the_start_naming_the_variable(
    fields: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=f"SPORTELLO_{variable}"):
        load_settings({}, **fields, _env_file=None)


def test_without_a_mail_server_any_sender_will_do_and_the_desk_may_be_empty() -> None:
    settings = Settings(support_email="", public_base_url="https://s.example/", _env_file=None)  # type: ignore[call-arg]
    assert not settings.mail_enabled
    assert settings.public_base_url == "https://s.example"


@pytest.mark.parametrize("locale", ["it", "es", "en"])
def test_the_new_address_confirmation_carries_its_link_and_no_ticket(locale: str) -> None:
    ctx = {"name": "Mario <b>Rossi</b>", "new_email": "mario@new.example", "hours": 24}
    rendered = render("email_change", locale, ctx, link="http://s.test/api/v1/auth/x")
    assert not rendered.subject.startswith("[")
    assert "mario@new.example" in rendered.text and "http://s.test/api/v1/auth/x" in rendered.text
    assert '<a href="http://s.test/api/v1/auth/x">' in rendered.html
    assert "<b>" not in rendered.html and f'<html lang="{locale}">' in rendered.html
