"""Private answers are not cached; the published contract says what the API does."""

from __future__ import annotations

import json
from typing import Any

from app.domain.attachments import ALLOWED_TYPES
from tests import samples
from tests.conftest import repo_root
from tests.factories import PASSWORD, Desk


def test_every_authenticated_answer_and_the_login_are_no_store(desk: Desk) -> None:
    customer = desk.customer()
    user = desk.customer_user(customer)
    ticket = desk.ticket(user, customer)
    r = desk.anonymous().post(
        "/auth/login", json={"email": "nobody@example.com", "password": "wrong-password"}
    )
    assert r.headers["cache-control"] == "no-store"
    for path in (
        "/me",
        f"/tickets/{ticket['id']}",
        "/tickets",
        f"/tickets/{ticket['id']}/attachments",
    ):
        r = user.get(path)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store", path
    assert user.get("/tickets/999999").headers["cache-control"] == "no-store"
    # The answer that holds a token.
    _, agent = desk.user("agent")
    r = desk.anonymous().post("/auth/login", json={"email": agent["email"], "password": PASSWORD})
    assert r.status_code == 200 and "access_token" in r.json()
    assert r.headers["cache-control"] == "no-store"


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((repo_root() / "openapi.json").read_text())
    return data


def test_patch_fields_documented_non_null_are_refused_null_and_the_nullable_ones_taken(
    desk: Desk,
) -> None:
    admin = desk.admin()
    customer = desk.customer()
    order = desk.order(customer, description="Licenza annuale")
    props = _schema()["components"]["schemas"]["OrderUpdate"]["properties"]
    assert "anyOf" not in props["status"] and "null" not in json.dumps(props["status"])
    r = admin.patch(f"/orders/{order['id']}", json={"status": None})
    assert r.status_code == 422
    assert {"type": "null"} in props["description"]["anyOf"]
    r = admin.patch(f"/orders/{order['id']}", json={"description": None})
    assert r.status_code == 200 and r.json()["description"] is None
    # Every PATCH body: a field that the schema lets be null is accepted as null.
    for name in ("CustomerUpdate", "UserUpdate", "MeUpdate", "ArticleUpdate", "TicketUpdate"):
        schema = _schema()["components"]["schemas"][name]
        for field, prop in schema["properties"].items():
            nullable = {"type": "null"} in prop.get("anyOf", [])
            assert nullable == (field in NULLABLE[name]), (name, field)


NULLABLE = {
    "CustomerUpdate": {"email", "phone", "plan"},
    "UserUpdate": {"customer_id", "phone"},
    "MeUpdate": {"phone", "password", "current_password"},
    "ArticleUpdate": {"category_id"},
    # team_id (issue 13, teams): null takes the ticket out of its team, like assignee_id.
    "TicketUpdate": {"category_id", "assignee_id", "team_id"},
}


def test_downloads_are_documented_with_the_types_they_are_served_as(desk: Desk) -> None:
    operation = _schema()["paths"]["/api/v1/attachments/{attachment_id}/content"]["get"]
    documented = set(operation["responses"]["200"]["content"])
    assert "application/octet-stream" not in documented
    assert {t.split(";")[0] for t in documented} == set(ALLOWED_TYPES)
    customer = desk.customer()
    user = desk.customer_user(customer)
    r = user.post(
        "/tickets",
        data={
            "payload": json.dumps(
                {
                    "customer_code": customer["code"],
                    "type": "technical",
                    "subject": "Schermata",
                    "description": "In allegato.",
                }
            )
        },
        files=[
            ("files", ("a.png", samples.png("doc"), "application/octet-stream")),
            ("files", ("b.txt", b"una riga di log\n", "application/octet-stream")),
        ],
    )
    assert r.status_code == 201, r.text
    for meta in r.json()["attachments"]:
        served = user.get(f"/attachments/{meta['id']}/content")
        assert served.headers["content-type"] in documented
