"""The contract's table of e-mail notifications and the retry policy, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.notifications import (
    Audience,
    NotificationKind,
    NotificationStatus,
    Planned,
    Settlement,
    plan_opened,
    plan_reply,
    plan_status_changed,
    retry_delay,
    settle_failure,
    summary,
)
from app.domain.tickets import MOVES, TicketStatus

K, A, S = NotificationKind, Audience, TicketStatus
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_new_ticket_is_confirmed_to_the_contact_and_announced_to_the_desk() -> None:
    assert plan_opened() == [Planned(K.CONFIRMATION, A.CONTACT), Planned(K.NEW_TICKET, A.DESK)]


@pytest.mark.parametrize(("frm", "to"), list(MOVES))
@pytest.mark.parametrize("by_customer", [False, True])
def test_every_status_change_is_told_to_the_contact(
    frm: TicketStatus, to: TicketStatus, by_customer: bool
) -> None:
    planned = plan_status_changed(frm, to, by_customer, with_reply=False)
    assert planned[0] == Planned(K.STATUS_CHANGED, A.CONTACT)
    reopen = (frm, to) == (S.RESOLVED, S.OPEN) and by_customer
    assert (Planned(K.REOPENED, A.STAFF) in planned) is reopen
    closed = to is S.CLOSED and by_customer
    assert (Planned(K.CLOSED, A.STAFF) in planned) is closed
    assert len(planned) == 1 + reopen + closed


def test_a_reopen_by_reply_is_told_to_the_staff_by_the_reply_mail_alone() -> None:
    assert plan_status_changed(S.RESOLVED, S.OPEN, by_customer=True, with_reply=True) == [
        Planned(K.STATUS_CHANGED, A.CONTACT)
    ]


def test_replies_go_the_other_way_and_internal_notes_nowhere() -> None:
    assert plan_reply(public=True, by_customer=False) == [Planned(K.AGENT_REPLY, A.CONTACT)]
    assert plan_reply(public=True, by_customer=True) == [Planned(K.CUSTOMER_REPLY, A.STAFF)]
    assert plan_reply(public=False, by_customer=False) == []


def test_the_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [retry_delay(n, 30, 3600).total_seconds() for n in range(1, 11)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert retry_delay(10_000, 30, 3600) == timedelta(hours=1)


def after(attempts: int, server_unavailable: bool) -> Settlement:
    return settle_failure(
        attempts=attempts,
        max_attempts=3,
        server_unavailable=server_unavailable,
        now=NOW,
        base_seconds=30,
        cap_seconds=3600,
    )


def test_a_refused_mail_fails_after_its_last_attempt() -> None:
    second = after(2, server_unavailable=False)
    assert second.status is NotificationStatus.QUEUED
    assert second.next_attempt_at == NOW + timedelta(seconds=60)
    last = after(3, server_unavailable=False)
    assert (last.status, last.next_attempt_at) == (NotificationStatus.FAILED, None)


def test_an_unreachable_server_never_makes_a_mail_fail() -> None:
    later = after(50, server_unavailable=True)
    assert later.status is NotificationStatus.QUEUED
    assert later.next_attempt_at == NOW + timedelta(hours=1)


def test_a_summary_keeps_short_texts_and_cuts_long_ones_at_a_word() -> None:
    assert summary("  La stampante non stampa.  ") == "La stampante non stampa."
    cut = summary("parola " * 200, limit=50)
    assert len(cut) <= 52 and cut.endswith(" …") and "parol …" not in cut
