"""Webhooks against a real HTTP receiver on loopback: signatures, filters, retries, order,
disablement, redelivery, secret rotation, and who may manage them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.infra import webhooks as webhook_delivery
from tests.conftest import Database
from tests.factories import Desk, problem
from tests.receiver import Receiver, running
from tests.smtp import SmtpSink


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running()


def deliver(db: Database, settings: Settings | None = None) -> int:
    """One round of the webhook dispatcher, as a worker runs it."""
    return db.run(webhook_delivery.dispatch(db.sessions, settings or db.settings))


def make_due(db: Database) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    db.execute(
        "UPDATE webhook_delivery SET next_attempt_at = :past"
        " WHERE status IN ('pending', 'sending')",
        past=past.replace(tzinfo=None) if db.dialect == "sqlite" else past,
    )


def hook(desk: Desk, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    body = {"url": receiver.url(), "kinds": ["*"], **fields}
    r = desk.admin().post("/webhooks", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


class World:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.customer = desk.customer()
        self.client = desk.customer_user(self.customer)
        self.agent = desk.agent()

    def ticket(self, **fields: Any) -> dict[str, Any]:
        return self.desk.ticket(self.client, self.customer, **fields)


def types(receiver: Receiver) -> list[str]:
    return [r.json["type"] for r in receiver.requests]


def test_deliveries_are_signed_and_carry_the_event_and_the_ticket_as_staff_see_it(
    desk: Desk, receiver: Receiver, db: Database
) -> None:
    created = hook(desk, receiver)
    assert created["secret"].startswith("whsec_")
    world = World(desk)
    ticket = world.ticket()
    desk.move(world.agent, ticket, "in_progress")
    desk.reply(world.agent, ticket, "Stiamo verificando.")
    assert receiver.requests == [], "nothing is sent inside the request"

    sent = deliver(db)
    timeline = world.agent.get(f"/tickets/{ticket['id']}/events").json()["items"]
    assert sent == len(timeline) == len(receiver.requests)
    assert types(receiver) == [f"ticket.{e['kind']}" for e in timeline]
    assert {"ticket.created", "ticket.status_changed", "ticket.replied"} <= set(types(receiver))

    for request, event in zip(receiver.requests, timeline, strict=True):
        assert request.signed_by(created["secret"])
        assert not request.signed_by("whsec_" + "A" * 44)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
        stamp = int(request.headers["webhook-timestamp"])
        assert abs(stamp - datetime.now(UTC).timestamp()) < 60
        body = request.json
        assert body["data"]["event"]["id"] == event["id"]
        assert body["data"]["event"]["ticket_id"] == ticket["id"]
        assert body["data"]["event"]["kind"] == event["kind"]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == len(timeline)

    # The last event's ticket is the ticket as GET /tickets/{id} shows it to staff now.
    staff_view = world.agent.get(f"/tickets/{ticket['id']}").json()
    for detail_only in ("allowed_transitions", "attachments"):
        staff_view.pop(detail_only)
    last = receiver.requests[-1].json["data"]["ticket"]
    assert _same_instants(last) == _same_instants(staff_view)

    listed = desk.admin().get(f"/webhooks/{created['id']}/deliveries").json()["items"]
    assert [d["status"] for d in listed] == ["delivered"] * len(timeline)
    assert all(d["response_code"] == 200 and d["attempts"] == 1 for d in listed)
    assert all(d["duration_ms"] is not None and d["delivered_at"] for d in listed)
    assert deliver(db) == 0, "delivered once"


def _same_instants(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for name in ("created_at", "updated_at", "resolved_at", "closed_at"):
        if out.get(name):
            out[name] = datetime.fromisoformat(out[name].replace("Z", "+00:00"))
    return out


def test_hooks_get_only_what_they_asked_for(desk: Desk, db: Database) -> None:
    world = World(desk)
    other = desk.customer()
    receivers = [Receiver() for _ in range(4)]
    for r in receivers:
        r.start()
    try:
        everything, replies_only, this_customer, internal_too = receivers
        hook(desk, everything)
        hook(desk, replies_only, kinds=["replied"])
        hook(desk, this_customer, kinds=["*"], customer_id=world.customer["id"])
        hook(desk, internal_too, kinds=["replied"], include_internal=True, ticket_type="technical")
        ticket = world.ticket()
        desk.reply(world.agent, ticket, "Nota interna.", "internal")
        desk.reply(world.agent, ticket, "Risposta pubblica.")
        desk.ticket(desk.admin(), other)
        deliver(db)
        assert sorted(types(everything)) == [
            "ticket.created",
            "ticket.created",
            "ticket.replied",
        ], "no internal note without include_internal"
        assert types(replies_only) == ["ticket.replied"]
        assert [r.json["data"]["event"]["internal"] for r in replies_only.requests] == [False]
        assert types(this_customer) == ["ticket.created", "ticket.replied"]
        assert [r.json["data"]["event"]["internal"] for r in internal_too.requests] == [
            True,
            False,
        ]
    finally:
        for r in receivers:
            r.stop()


def test_failures_are_retried_with_backoff_and_a_tickets_events_stay_in_order(
    desk: Desk, receiver: Receiver, db: Database
) -> None:
    created = hook(desk, receiver)
    world = World(desk)
    ticket = world.ticket()
    desk.reply(world.client, ticket, "Aggiungo un dettaglio.")
    second = world.ticket(subject="Un altro problema")
    receiver.answers = [500, 503]  # the first two attempts fail

    deliver(db)
    # The first event of each ticket was tried; the reply waits behind the failed creation.
    tried = [r.json["data"]["event"]["ticket_id"] for r in receiver.requests]
    assert sorted(tried) == sorted([ticket["id"], second["id"]])
    assert deliver(db) == 0, "a retry waits for its backoff"
    rows = desk.admin().get(f"/webhooks/{created['id']}/deliveries").json()["items"]
    failed = [d for d in rows if d["response_code"] in (500, 503)]
    assert len(failed) == 2
    now = datetime.now(UTC)
    for d in failed:
        assert d["status"] == "pending" and d["attempts"] == 1
        assert d["last_error"] in ("HTTP 500", "HTTP 503")
        due = datetime.fromisoformat(d["next_attempt_at"])
        # base 30 s, "equal jitter": between 15 and 30 s from now
        assert now + timedelta(seconds=10) < due < now + timedelta(seconds=31)

    make_due(db)
    assert deliver(db) == 3, "both creations, then the reply after its ticket's creation"
    per_ticket = [
        r.json["type"]
        for r in receiver.requests
        if r.json["data"]["event"]["ticket_id"] == ticket["id"]
    ]
    assert per_ticket == ["ticket.created", "ticket.created", "ticket.replied"]
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(set(ids)) == 3, "a retry carries the same webhook-id"
    rows = desk.admin().get(f"/webhooks/{created['id']}/deliveries").json()["items"]
    assert sorted(d["attempts"] for d in rows) == [1, 2, 2]
    assert all(d["status"] == "delivered" for d in rows)


def test_a_delivery_gives_up_after_its_last_attempt(
    desk: Desk, receiver: Receiver, db: Database, settings: Settings
) -> None:
    created = hook(desk, receiver)
    World(desk).ticket()
    receiver.default = 500
    two_tries = settings.model_copy(update={"webhook_max_attempts": 2})
    deliver(db, two_tries)
    make_due(db)
    deliver(db, two_tries)
    [row] = desk.admin().get(f"/webhooks/{created['id']}/deliveries").json()["items"]
    assert row["status"] == "failed" and row["attempts"] == 2 and row["next_attempt_at"] is None
    make_due(db)
    assert deliver(db, two_tries) == 0 and len(receiver.requests) == 2


def test_410_gone_disables_the_hook_and_tells_the_admins(
    desk: Desk, receiver: Receiver, db: Database, mailbox: SmtpSink
) -> None:
    created = hook(desk, receiver)
    world = World(desk)
    world.ticket()
    receiver.answers = [410]
    deliver(db)
    read = desk.admin().get(f"/webhooks/{created['id']}").json()
    assert read["enabled"] is False
    assert "410" in read["disabled_reason"]
    world.ticket()
    make_due(db)
    assert deliver(db) == 0 and len(receiver.requests) == 1, "a disabled hook gets nothing"
    [mail] = mailbox.messages
    assert f"Webhook {created['id']} disabled" in mail.subject
    assert receiver.url() in mail.text


def test_repeated_failures_disable_the_hook_until_an_admin_enables_it(
    desk: Desk, receiver: Receiver, db: Database, settings: Settings, mailbox: SmtpSink
) -> None:
    created = hook(desk, receiver)
    world = World(desk)
    ticket = world.ticket()
    receiver.default = 502
    strict = settings.model_copy(update={"webhook_disable_after_failures": 3})
    for _ in range(5):
        deliver(db, strict)
        make_due(db)
    assert len(receiver.requests) == 3
    read = desk.admin().get(f"/webhooks/{created['id']}").json()
    assert read["enabled"] is False and read["failure_count"] == 3
    assert "3 failed attempts in a row" in read["disabled_reason"]
    assert len(mailbox.messages) == 1, "told once"
    assert "disabled" in mailbox.messages[0].text

    receiver.default = 200
    desk.reply(world.agent, ticket, "Mentre il webhook è spento.")
    r = desk.admin().patch(f"/webhooks/{created['id']}", json={"enabled": True})
    assert r.status_code == 200 and r.json()["failure_count"] == 0
    assert r.json()["disabled_reason"] is None
    desk.reply(world.agent, ticket, "Di nuovo acceso.")
    make_due(db)
    assert deliver(db, strict) == 2, "the waiting delivery first, then the new event"
    assert types(receiver)[-2:] == ["ticket.created", "ticket.replied"]
    assert "Di nuovo acceso." in receiver.requests[-1].body.decode()


def test_a_delivery_can_be_sent_again(desk: Desk, receiver: Receiver, db: Database) -> None:
    created = hook(desk, receiver)
    World(desk).ticket()
    deliver(db)
    admin = desk.admin()
    [row] = admin.get(f"/webhooks/{created['id']}/deliveries").json()["items"]
    r = admin.post(f"/webhooks/{created['id']}/deliveries/{row['id']}/redeliver")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    problem(admin.post(f"/webhooks/{created['id']}/deliveries/{row['id']}/redeliver"), 409)
    assert deliver(db) == 1
    first, again = receiver.requests
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert first.body == again.body
    problem(admin.post(f"/webhooks/{created['id']}/deliveries/999999/redeliver"), 404)
    listed = admin.get(f"/webhooks/{created['id']}/deliveries", params={"status": "delivered"})
    assert [d["id"] for d in listed.json()["items"]] == [row["id"]]


def test_a_rotated_secret_signs_along_with_the_old_one_during_the_overlap(
    desk: Desk, receiver: Receiver, db: Database
) -> None:
    created = hook(desk, receiver)
    admin = desk.admin()
    world = World(desk)
    r = admin.post(f"/webhooks/{created['id']}/rotate-secret", json={"overlap_hours": 2})
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    world.ticket()
    deliver(db)
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert request.signed_by(created["secret"]) and request.signed_by(rotated["secret"])
    assert "secret" not in admin.get(f"/webhooks/{created['id']}").json()

    r = admin.post(f"/webhooks/{created['id']}/rotate-secret", json={"overlap_hours": 0})
    latest = r.json()["secret"]
    world.ticket()
    deliver(db)
    last = receiver.requests[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    assert last.signed_by(latest) and not last.signed_by(rotated["secret"])


def test_only_admins_manage_webhooks(desk: Desk, receiver: Receiver) -> None:
    created = hook(desk, receiver)
    world = World(desk)
    key = desk.api_key("tickets:read", "tickets:write")
    for caller in (world.agent, world.client, key):
        problem(caller.post("/webhooks", json={"url": receiver.url(), "kinds": ["*"]}), 403)
        problem(caller.get("/webhooks"), 403)
        problem(caller.get(f"/webhooks/{created['id']}/deliveries"), 403)
    problem(httpx.get(f"{desk.base_url}/webhooks"), 401)
    admin = desk.admin()
    assert [h["id"] for h in admin.get("/webhooks").json()["items"]] == [created["id"]]
    kinds = admin.get("/webhooks/event-kinds").json()["items"]
    assert {"created", "status_changed", "replied", "assigned", "attachment_added"} <= {
        k["kind"] for k in kinds
    }
    assert admin.delete(f"/webhooks/{created['id']}").status_code == 204
    problem(admin.get(f"/webhooks/{created['id']}"), 404)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "https"),
        ("http://example.com/hook", "https"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::ffff:192.168.0.1]/hook", "private"),
        ("https://224.0.0.1/hook", "multicast"),
        ("not a url", "URL"),
    ],
)
def test_a_url_that_may_not_be_called_is_refused(desk: Desk, url: str, why: str) -> None:
    body = problem(desk.admin().post("/webhooks", json={"url": url, "kinds": ["*"]}), 422)
    assert why in body["detail"]


def test_kinds_and_filters_are_checked(desk: Desk, receiver: Receiver) -> None:
    admin = desk.admin()
    problem(admin.post("/webhooks", json={"url": receiver.url(), "kinds": ["exploded"]}), 422)
    problem(admin.post("/webhooks", json={"url": receiver.url(), "kinds": []}), 422)
    problem(
        admin.post("/webhooks", json={"url": receiver.url(), "kinds": ["*"], "customer_id": 9999}),
        422,
    )
    ok = admin.post("/webhooks", json={"url": "https://hooks.example.com/x", "kinds": ["created"]})
    assert ok.status_code == 201, ok.text
    r = admin.patch(f"/webhooks/{ok.json()['id']}", json={"url": "http://example.com/x"})
    problem(r, 422)
    for field in ("url", "kinds", "include_internal", "enabled"):
        problem(admin.patch(f"/webhooks/{ok.json()['id']}", json={field: None}), 422)
    r = admin.patch(
        f"/webhooks/{ok.json()['id']}", json={"kinds": ["replied"], "ticket_type": "order"}
    )
    assert (r.json()["kinds"], r.json()["ticket_type"]) == (["replied"], "order")


def test_creating_a_webhook_is_idempotent(desk: Desk, receiver: Receiver) -> None:
    admin = desk.admin()
    body = {"url": receiver.url(), "kinds": ["*"]}
    first = admin.post("/webhooks", json=body, headers={"Idempotency-Key": "hook-1"})
    again = admin.post("/webhooks", json=body, headers={"Idempotency-Key": "hook-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json()
    assert len(admin.get("/webhooks").json()["items"]) == 1


def test_a_hook_filtered_by_team_gets_only_that_teams_tickets(
    desk: Desk, receiver: Receiver, db: Database
) -> None:
    admin = desk.admin()
    team = admin.post("/teams", json={"name": "Fatturazione elettronica"})
    assert team.status_code == 201, team.text
    created = hook(desk, receiver, kinds=["replied"], team_id=team.json()["id"])
    assert created["team_id"] == team.json()["id"]
    world = World(desk)
    theirs, other = world.ticket(), world.ticket()
    r = world.agent.patch(f"/tickets/{theirs['id']}", json={"team_id": team.json()["id"]})
    assert r.status_code == 200, r.text
    desk.reply(world.agent, theirs, "Se ne occupa il team fatture.")
    desk.reply(world.agent, other, "Questo no.")
    deliver(db)
    assert [r.json["data"]["event"]["ticket_id"] for r in receiver.requests] == [theirs["id"]]
    # A team that does not exist is refused, and the filter can be lifted.
    assert (
        admin.post(
            "/webhooks", json={"url": receiver.url(), "kinds": ["*"], "team_id": 9999}
        ).status_code
        == 422
    )
    lifted = admin.patch(f"/webhooks/{created['id']}", json={"team_id": None})
    assert lifted.status_code == 200 and lifted.json()["team_id"] is None
