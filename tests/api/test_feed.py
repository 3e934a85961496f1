"""The change feed: every event the caller may see, across tickets, oldest first, in pages."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Desk, problem


def read_all(
    client: httpx.Client, after: str | None = None, limit: int = 2
) -> tuple[list[Any], str]:
    items: list[Any] = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        r = client.get("/events", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        after = page["next_cursor"]
        if len(page["items"]) < limit:
            return items, after


def test_staff_read_every_event_and_customers_their_own_public_ones(desk: Desk) -> None:
    agent = desk.agent()
    mine, theirs = desk.customer(), desk.customer()
    me, other = desk.customer_user(mine), desk.customer_user(theirs)
    first = desk.ticket(me, mine)
    desk.move(agent, first, "in_progress")
    desk.reply(agent, first, "Solo per noi.", "internal")
    second = desk.ticket(other, theirs)
    desk.reply(me, first, "Ecco i dettagli.")

    everything, _ = read_all(agent)
    timelines = {
        t["id"]: agent.get(f"/tickets/{t['id']}/events").json()["items"] for t in (first, second)
    }
    expected = sorted(
        ({**e, "ticket_id": tid} for tid, events in timelines.items() for e in events),
        key=lambda e: e["id"],
    )
    assert everything == expected, "every event, oldest first, as the timeline shows it"
    assert any(e["kind"] == "replied" and e["reply_id"] for e in everything)

    seen, _ = read_all(me)
    assert {e["ticket_id"] for e in seen} == {first["id"]}
    customer_timeline = me.get(f"/tickets/{first['id']}/events").json()["items"]
    assert [e["id"] for e in seen] == [e["id"] for e in customer_timeline]
    assert len(seen) == len(timelines[first["id"]]) - 1, "no internal note"
    assert [e["ticket_id"] for e in read_all(other)[0]] == [second["id"]]


def test_a_reader_catches_up_from_its_cursor(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    client = desk.customer_user(customer)
    desk.ticket(client, customer)
    seen, cursor = read_all(agent)
    again = agent.get("/events", params={"after": cursor}).json()
    assert again == {"items": [], "next_cursor": cursor}, "nothing new: the same cursor"
    later = desk.ticket(client, customer)
    desk.reply(agent, later, "Presa in carico.")
    news, cursor2 = read_all(agent, cursor)
    assert [e["ticket_id"] for e in news] == [later["id"], later["id"]]
    assert [e["kind"] for e in news] == ["created", "replied"]
    assert min(e["id"] for e in news) > max(e["id"] for e in seen)
    assert cursor2 != cursor


def test_bad_cursors_and_keys_without_scope_are_refused(desk: Desk) -> None:
    agent = desk.agent()
    problem(agent.get("/events", params={"after": "nonsense!"}), 400)
    problem(agent.get("/events", params={"limit": 0}), 422)
    problem(agent.get("/events", params={"limit": 501}), 422)
    problem(desk.api_key("customers:read").get("/events"), 403)
    assert desk.api_key("tickets:read").get("/events").status_code == 200
    problem(desk.anonymous().get("/events"), 401)
