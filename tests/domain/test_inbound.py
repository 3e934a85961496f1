"""The e-mail channel's rules, without a mail server or a database."""

from __future__ import annotations

import pytest

from app.domain.inbound import (
    MailFacts,
    authenticated,
    cc_within,
    clean_subject,
    noise_reason,
    number_of_token,
    reply_address,
    reply_token,
    thread_id,
    thread_numbers,
)

SECRET = "s3cret"
OURS = "sportello.example"


def facts(**fields: object) -> MailFacts:
    base: dict[str, object] = {"message_id": "<m1@client.example>", "sender": "a@client.example"}
    return MailFacts(**{**base, **fields})  # type: ignore[arg-type]


def test_a_reply_address_carries_a_token_only_the_secret_makes() -> None:
    address = reply_address("support@desk.example", SECRET, "T-2026-000123")
    local, _, host = address.partition("@")
    assert host == "desk.example" and local.startswith("support+t-2026-000123.")
    token = local.partition("+")[2]
    assert number_of_token(SECRET, token) == "T-2026-000123"
    assert number_of_token("another secret", token) is None
    forged = reply_token(SECRET, "T-2026-000123").replace("t-2026-000123", "t-2026-000124")
    assert number_of_token(SECRET, forged) is None
    assert reply_address("support@desk.example", "", "T-2026-000123") == "support@desk.example"


def test_threading_by_reply_address_references_and_subject_strongest_first() -> None:
    token_to = reply_address("support@desk.example", SECRET, "T-2026-000001")
    mail = facts(
        recipients=(token_to,),
        references=(thread_id("T-2026-000002", OURS),),
        subject="Re: [T-2026-000003] Nuova risposta",
    )
    assert thread_numbers(mail, OURS, SECRET) == ["T-2026-000001", "T-2026-000002", "T-2026-000003"]


def test_message_ids_of_another_domain_do_not_thread() -> None:
    mail = facts(in_reply_to=(thread_id("T-2026-000002", "evil.example"),))
    assert thread_numbers(mail, OURS, SECRET) == []


@pytest.mark.parametrize(
    ("headers", "content_type", "sender", "noisy"),
    [
        ({}, "text/plain", "a@client.example", False),
        ({"auto-submitted": "no"}, "text/plain", "a@client.example", False),
        ({"auto-submitted": "auto-replied"}, "text/plain", "a@client.example", True),
        ({"auto-submitted": "auto-generated"}, "text/plain", "a@client.example", True),
        ({"precedence": "bulk"}, "text/plain", "a@client.example", True),
        ({"precedence": "list"}, "text/plain", "a@client.example", True),
        ({"x-autoreply": "yes"}, "text/plain", "a@client.example", True),
        ({"x-auto-response-suppress": "OOF, AutoReply"}, "text/plain", "a@client.example", True),
        ({"list-id": "<news.client.example>"}, "text/plain", "a@client.example", True),
        ({}, "multipart/report", "a@client.example", True),
        ({}, "text/plain", "MAILER-DAEMON@mx.client.example", True),
        ({}, "text/plain", "sportello@sportello.example", True),
    ],
)
def test_noise_is_recognised(
    headers: dict[str, str], content_type: str, sender: str, noisy: bool
) -> None:
    mail = facts(headers=headers, content_type=content_type, sender=sender.lower())
    reason = noise_reason(mail, OURS, frozenset({"sportello@sportello.example"}))
    assert (reason is not None) is noisy


def test_our_own_message_ids_are_noise_other_domains_are_not() -> None:
    ours = facts(message_id="<notification-5.1796000000@sportello.example>")
    assert noise_reason(ours, OURS, frozenset()) == "our own outgoing mail"
    theirs = facts(message_id="<notification-5.1796000000@client.example>")
    assert noise_reason(theirs, OURS, frozenset()) is None


@pytest.mark.parametrize(
    ("header", "trusted"),
    [
        ("mx.desk.example; dkim=pass header.d=desk.example", True),
        ("mx.desk.example; spf=pass smtp.mailfrom=anna@desk.example", True),
        ("mx.desk.example; dmarc=pass header.from=desk.example", True),
        ("mx.desk.example; dkim=fail header.d=desk.example", False),
        ("mx.desk.example; dkim=pass header.d=other.example", False),
        ("mx.evil.example; dkim=pass header.d=desk.example", False),
    ],
)
def test_only_our_servers_vouch_for_a_staff_sender(header: str, trusted: bool) -> None:
    mail = facts(sender="anna@desk.example", authentication_results=(header,))
    assert authenticated(mail, frozenset({"mx.desk.example"})) is trusted


def test_cc_within_the_customers_domains() -> None:
    cc = ("Giulia <Giulia@Rossi.example>", "x@outside.example", "mario@rossi.example")
    got = cc_within(cc, frozenset({"rossi.example"}), frozenset({"mario@rossi.example"}))
    assert got == ["giulia@rossi.example"]


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("Re: [T-2026-000001] Nuova risposta: Stampa", "Nuova risposta: Stampa"),
        ("R: RE: Fwd: Ordine 12", "Ordine 12"),
        ("RV: Factura", "Factura"),
        ("Richiesta", "Richiesta"),
    ],
)
def test_subjects_lose_reply_prefixes(subject: str, clean: str) -> None:
    assert clean_subject(subject) == clean
