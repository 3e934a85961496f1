"""The rules of webhooks and of retrying deliveries, without a network or a database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.delivery import backoff, backoff_with_jitter
from app.domain.events import EVENT_KINDS
from app.domain.webhooks import (
    ALL_KINDS,
    EventFacts,
    HookFilter,
    Verdict,
    after_failure,
    check_kinds,
    headers,
    judge,
    new_secret,
    sign,
    verify,
    wants,
)


def test_the_signature_matches_the_standard_webhooks_example() -> None:
    # The example of the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_every_secret_of_a_rotation_signs_and_each_verifies() -> None:
    old, new = new_secret(), new_secret()
    assert old != new and old.startswith("whsec_")
    h = headers([new, old], "msg_1", 1700000000, b"{}")
    assert h["webhook-id"] == "msg_1" and h["webhook-timestamp"] == "1700000000"
    assert len(h["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert verify(secret, "msg_1", 1700000000, b"{}", h["webhook-signature"])
    assert not verify(new_secret(), "msg_1", 1700000000, b"{}", h["webhook-signature"])
    assert not verify(new, "msg_1", 1700000001, b"{}", h["webhook-signature"]), "timestamp"
    assert not verify(new, "msg_1", 1700000000, b"{ }", h["webhook-signature"]), "body"


def test_kinds_come_from_the_timeline() -> None:
    assert check_kinds(["replied", "created", "replied"]) == ["replied", "created"]
    assert check_kinds([ALL_KINDS]) == ["*"]
    assert set(EVENT_KINDS) >= {"created", "status_changed", "assigned", "replied"}
    with pytest.raises(ValueError, match="exploded"):
        check_kinds(["created", "exploded"])


def facts(
    kind: str = "replied", internal: bool = False, type: str = "technical", customer: int = 1
) -> EventFacts:
    return EventFacts(kind=kind, internal=internal, ticket_type=type, customer_id=customer)


@pytest.mark.parametrize(
    ("hook", "event", "wanted"),
    [
        (HookFilter(("*",), False, None, None), facts(), True),
        (HookFilter(("*",), False, None, None), facts(internal=True), False),
        (HookFilter(("*",), True, None, None), facts(internal=True), True),
        (HookFilter(("created",), True, None, None), facts(), False),
        (HookFilter(("replied",), False, "order", None), facts(), False),
        (HookFilter(("replied",), False, "technical", 2), facts(), False),
        (HookFilter(("replied",), False, "technical", 1), facts(), True),
        (HookFilter(("*",), False, None, None), facts(kind="sla_breached"), True),
    ],
)
def test_a_hook_gets_what_it_asked_for(hook: HookFilter, event: EventFacts, wanted: bool) -> None:
    assert wants(hook, event) is wanted


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, Verdict.DELIVERED), (204, Verdict.DELIVERED), (299, Verdict.DELIVERED),
     (410, Verdict.GONE), (404, Verdict.RETRY), (301, Verdict.RETRY), (500, Verdict.RETRY),
     (None, Verdict.RETRY)],
)  # fmt: skip
def test_answers_are_judged(status: int | None, verdict: Verdict) -> None:
    assert judge(status) is verdict


def test_backoff_doubles_up_to_its_cap_and_jitter_keeps_half() -> None:
    assert [backoff(n, 30, 3600) for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip
    assert backoff(10_000, 30, 3600) == 3600
    assert backoff_with_jitter(3, 30, 3600, 0.0) == timedelta(seconds=60)
    assert backoff_with_jitter(3, 30, 3600, 0.999) < timedelta(seconds=120)
    assert backoff_with_jitter(3, 30, 3600, 0.5) == timedelta(seconds=90)
    with pytest.raises(ValueError):
        backoff_with_jitter(1, 30, 3600, 1.0)


def test_a_failure_gives_up_the_delivery_and_disables_the_hook_at_their_limits() -> None:
    assert after_failure(attempts=1, max_attempts=3, hook_failures=1, disable_after=5) == (
        after_failure(attempts=2, max_attempts=3, hook_failures=4, disable_after=5)
    )
    last = after_failure(attempts=3, max_attempts=3, hook_failures=4, disable_after=5)
    assert last.delivery_failed and not last.disable_hook
    off = after_failure(attempts=1, max_attempts=3, hook_failures=5, disable_after=5)
    assert off.disable_hook and not off.delivery_failed
