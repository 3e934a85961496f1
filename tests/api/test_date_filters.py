"""Date filters take a plain date: the start of that day in the caller's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import Database
from tests.factories import Desk, problem


def test_a_plain_date_starts_at_midnight_where_the_caller_lives(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    rome, rome_user = desk.user("customer", customer_id=customer["id"], locale="it")
    assert rome_user["time_zone"] == "Europe/Rome"
    late = desk.ticket(rome, customer, subject="Aperto dopo mezzanotte a Roma")
    early = desk.ticket(rome, customer, subject="Aperto prima di mezzanotte a Roma")
    for ticket, at in (
        (late, datetime(2026, 1, 31, 23, 30, tzinfo=UTC)),  # 00:30 on 1 February in Rome
        (early, datetime(2026, 1, 31, 22, 30, tzinfo=UTC)),  # 23:30 on 31 January in Rome
    ):
        db.execute(
            "UPDATE ticket SET created_at = :at WHERE id = :id",
            at=desk.db_time(at),
            id=ticket["id"],
        )

    def subjects(client: object, **params: str) -> list[str]:
        r = client.get("/tickets", params=params)  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        return [t["subject"] for t in r.json()["items"]]

    assert subjects(rome, created_after="2026-02-01") == [late["subject"]]
    assert subjects(rome, created_before="2026-02-01") == [early["subject"]]
    # The same date for a caller in UTC starts an hour later: neither ticket is after it.
    r = rome.patch("/me", json={"time_zone": "UTC"})
    assert r.status_code == 200 and r.json()["time_zone"] == "UTC"
    assert subjects(rome, created_after="2026-02-01") == []
    # Full timestamps keep working, and mean what they say.
    assert subjects(rome, created_after="2026-01-31T23:00:00+00:00") == [late["subject"]]


def test_bad_dates_and_time_zones_are_422(desk: Desk) -> None:
    client, _ = desk.user("agent")
    for bad in ("2026-02-30", "2026-02-01T09:00:00", "yesterday"):
        body = problem(client.get("/tickets", params={"created_after": bad}), 422)
        assert "created_after" in str(body)
    # A folder of the time zone database (Europe, America/Argentina) names no zone: opening
    # it as one was an IsADirectoryError, a 500.
    for zone in ("Mars/Olympus", "../../etc/passwd", "CET1", "Europe", "America/Argentina", "Etc"):
        problem(client.patch("/me", json={"time_zone": zone}), 422)
    assert (
        client.patch("/me", json={"time_zone": "America/Argentina/Buenos_Aires"}).status_code == 200
    )


def test_the_first_day_of_the_calendar_east_of_greenwich_is_no_server_error(desk: Desk) -> None:
    """Midnight of 0001-01-01 in Rome is before the first instant Python can hold: the
    bound is the earliest instant there is (every ticket was created after it)."""
    customer = desk.customer()
    rome, _ = desk.user("customer", customer_id=customer["id"], locale="it")
    ticket = desk.ticket(rome, customer)
    for name in ("created_after", "updated_after"):
        r = rome.get("/tickets", params={name: "0001-01-01"})
        assert r.status_code == 200, r.text
        assert [t["id"] for t in r.json()["items"]] == [ticket["id"]]
        assert rome.get("/tickets/counts", params={name: "0001-01-01"}).status_code == 200
    r = rome.get("/tickets", params={"created_before": "0001-01-01"})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    assert rome.get("/tickets", params={"created_after": "9999-12-31"}).json()["items"] == []
