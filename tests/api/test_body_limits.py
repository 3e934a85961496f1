"""Request bodies are bounded before they are parsed, and retry keys are forgotten in time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx

from app.config import Settings
from app.worker import run_jobs_once
from tests.conftest import Database
from tests.factories import Desk


def test_an_oversized_json_body_is_413_before_anything_is_read(client: httpx.Client) -> None:
    body = b'{"email": "a@example.com", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = client.post("/auth/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 413


def test_an_oversized_body_without_a_length_is_stopped_while_it_streams(
    desk: Desk,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}'

    r = desk.admin().patch("/me", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["status"] == 413


def test_a_body_within_the_limit_is_served(desk: Desk) -> None:
    r = desk.admin().patch("/me", json={"name": "Ada " + "L" * 100})
    assert r.status_code == 200


def test_idempotency_keys_are_forgotten_after_thirty_days(
    desk: Desk, db: Database, settings: Settings
) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    body = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Stampa bloccata",
        "description": "La stampa delle fatture si blocca.",
    }
    first = client.post("/tickets", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/tickets", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.json()["id"] == again.json()["id"]
    old = desk.db_time(datetime.now(UTC) - timedelta(days=31))
    db.execute("UPDATE idempotency_key SET created_at = :at", at=old)
    db.run(run_jobs_once(db.sessions, settings))
    assert db.scalar("SELECT count(*) FROM idempotency_key") == 0
    later = client.post("/tickets", json=body, headers={"Idempotency-Key": "k-1"})
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
