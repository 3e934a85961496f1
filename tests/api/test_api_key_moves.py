"""An integrator's key is offered only the moves it may make."""

from __future__ import annotations

from tests.factories import Desk


def test_a_read_only_key_is_offered_no_move_and_a_writing_key_the_agents(desk: Desk) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.customer_user(customer), customer)
    reader = desk.api_key("tickets:read")
    writer = desk.api_key("tickets:read", "tickets:write")
    seen = reader.get(f"/tickets/{ticket['id']}").json()
    assert seen["allowed_transitions"] == []
    offered = writer.get(f"/tickets/{ticket['id']}").json()["allowed_transitions"]
    assert offered == ["in_progress", "waiting_customer", "resolved", "closed"]
    assert (
        reader.post(f"/tickets/{ticket['id']}/status", json={"status": "closed"}).status_code == 403
    )
