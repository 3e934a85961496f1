"""The pool does not ping each connection before use (a round trip per request); a connection
the server has dropped is found by the request's first statement, and the request still
succeeds: authentication retries once on a fresh connection."""

from __future__ import annotations

import pytest

from tests.conftest import Database
from tests.factories import Desk


def test_requests_succeed_after_the_server_dropped_every_connection(
    desk: Desk, db: Database
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("a server that drops connections is PostgreSQL's case")
    customer = desk.customer()
    user = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(user, customer)
    # Warm the app's pool with several connections, then have the server end them all.
    for _ in range(3):
        assert user.get(f"/tickets/{ticket['id']}").status_code == 200
    killed = db.scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert killed >= 1
    db.run(db.engine.dispose())  # the test's own pool lost its connections too
    for client, url in [(user, f"/tickets/{ticket['id']}"), (agent, "/tickets")] * 3:
        r = client.get(url)
        assert r.status_code == 200, r.text
    r = user.post(
        f"/tickets/{ticket['id']}/replies", json={"body": "Ancora io.", "visibility": "public"}
    )
    assert r.status_code == 201, r.text
