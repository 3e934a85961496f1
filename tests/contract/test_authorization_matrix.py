"""The authorization matrix, generated from ``openapi.json``: every operation, called by every
kind of caller against the resources of one customer, must be answered as
``authz_table.py`` (beside this file) says: allowed, 401, 403 or 404. An operation
missing from the table fails the test; so does any 2xx that shows another customer's
data, or an internal note to a customer.

To print the table the service answers today (to review a change, never to paste blindly),
run this test with ``SPORTELLO_AUTHZ_PRINT=1`` and ``pytest -s``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests import samples
from tests.conftest import repo_root
from tests.contract.authz_table import CALLERS, TABLE
from tests.factories import PASSWORD, SSL_CONTEXT, Desk

INTERNAL_MARK = "NOTA-INTERNA-" + uuid.uuid4().hex[:8]
SUBJECT_MARK = "OGGETTO-RISERVATO-" + uuid.uuid4().hex[:8]


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    desk: Desk
    ids: dict[str, Any] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def fresh_key_id(self) -> int:
        r = self.desk.admin().post("/api-keys", json={"name": _unique("k"), "scopes": ["kb:read"]})
        return int(r.json()["id"])

    def fresh(self, path: str, body: dict[str, Any]) -> Any:
        r = self.desk.admin().post(path, json=body)
        assert r.status_code == 201, (path, r.text)
        return r.json()["id"]

    def fresh_article_id(self) -> int:
        r = self.desk.admin().post(
            "/kb/articles", json={"title": _unique("Art "), "body": "Testo.", "locale": "it"}
        )
        return int(r.json()["id"])


def _build(desk: Desk) -> World:
    world = World(desk)
    admin = desk.admin()
    customer = desk.customer(code=_unique("CUSTA"))
    other = desk.customer(code=_unique("CUSTB"))
    _, user = desk.user("customer", customer_id=customer["id"])
    _, stranger = desk.user("customer", customer_id=other["id"])
    _, agent = desk.user("agent")
    _, second_admin = desk.user("admin")
    user_client = desk.login(user["email"])
    ticket = desk.ticket(user_client, customer, subject=SUBJECT_MARK)
    agent_client = desk.login(agent["email"])
    agent_client.post(
        f"/tickets/{ticket['id']}/replies", json={"body": INTERNAL_MARK, "visibility": "internal"}
    )
    r = user_client.post(
        f"/tickets/{ticket['id']}/attachments",
        files=[("files", ("a.png", samples.png("matrix"), "image/png"))],
    )
    attachment = r.json()["attachments"][0]
    order = desk.order(customer)
    category = desk.category()
    article = admin.post(
        "/kb/articles", json={"title": "Guida", "body": "Testo.", "locale": "it", "published": True}
    ).json()
    notification = desk.db.scalar("SELECT min(id) FROM notification")
    key = desk.api_key("metrics:read")
    # The desk's own settings and the mail channel, one of each, so every path names a row.
    calendar = admin.post("/calendars", json=CALENDAR).json()
    policy = admin.post("/sla-policies", json={"name": _unique("Pol ")}).json()
    team = admin.post("/teams", json={"name": _unique("Team ")}).json()
    admin.put(f"/teams/{team['id']}/members/{agent['id']}", json={})
    rule = admin.post("/routing-rules", json={"name": _unique("R "), "team_id": team["id"]}).json()
    view = admin.post("/views", json={"name": _unique("V "), "shared": True}).json()
    macro = admin.post(
        "/macros", json={"title": _unique("M "), "bodies": {"it": "Ciao."}, "shared": True}
    ).json()
    agent_client.post(f"/tickets/{ticket['id']}/tags", json={"tags": ["matrice"]})
    webhook = admin.post(
        "/webhooks", json={"url": "https://hooks.example.com/matrix", "kinds": ["*"]}
    ).json()
    agent_client.post(f"/tickets/{ticket['id']}/replies", json={"body": "Per il webhook."})
    delivery = desk.db.scalar("SELECT min(id) FROM webhook_delivery") or 999999
    admin.post("/inbound/mail", content=_mail(), headers={"content-type": "message/rfc822"})
    mail = desk.db.scalar("SELECT min(id) FROM inbound_mail") or 999999
    world.ids = {
        "customer_id": customer["id"],
        "customer_code": customer["code"],
        "other_code": other["code"],
        "user_id": user["id"],
        "ticket_id": ticket["id"],
        "attachment_id": attachment["id"],
        "order_id": order["id"],
        "category_id": category["id"],
        "article_id": article["id"],
        "notification_id": notification,
        "token": "not-a-link-token",
        "calendar_id": calendar["id"],
        "policy_id": policy["id"],
        "team_id": team["id"],
        "rule_id": rule["id"],
        "view_id": view["id"],
        "macro_id": macro["id"],
        "tag": "matrice",
        "webhook_id": webhook["id"],
        "delivery_id": delivery,
        "mail_id": mail,
    }
    world.ids["agent_id"] = agent["id"]
    # A signed link is a capability: whoever holds its query may open the file.
    link = user_client.post(f"/attachments/{attachment['id']}/link").json()["url"]
    QUERIES["open_signed_attachment"] = dict(httpx.URL(link).params)
    world.emails = {
        "customer": user["email"],
        "other_customer": stranger["email"],
        "agent": agent["email"],
        "admin": second_admin["email"],
    }
    world.clients = {
        "anonymous": desk.anonymous(),
        "other_customer": desk.login(stranger["email"]),
        "customer": user_client,
        "key_without_scope": key,
        "agent": agent_client,
        "admin": desk.login(second_admin["email"]),
    }
    return world


CALENDAR = {"name": "Sempre", "tz": "UTC", "hours": {"mon": [["09:00", "18:00"]]}}


def _mail() -> bytes:
    return (
        f"From: nessuno@altrove.example\r\nTo: support@sportello.test\r\nSubject: Ciao\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@altrove.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nTesto.\r\n"
    ).encode()


def _body(operation_id: str, world: World) -> dict[str, Any] | None:
    ids = world.ids
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "login": lambda: {"email": world.emails["customer"], "password": PASSWORD},
        "answer_satisfaction": lambda: {"rating": "good"},
        "answer_public_ticket_satisfaction": lambda: {"rating": "good"},
        "update_me": lambda: {"name": "Nome Nuovo"},
        "create_api_key": lambda: {"name": _unique("k"), "scopes": ["tickets:read"]},
        "create_user": lambda: {
            "email": _unique("u") + "@example.com",
            "name": "Nuovo Utente",
            "password": "una-password-lunga",
            "role": "customer",
            "customer_id": ids["customer_id"],
        },
        "update_user": lambda: {"name": "Nome Cambiato"},
        "create_customer": lambda: {"code": _unique("NEW"), "name": "Nuovo Cliente"},
        "update_customer": lambda: {"name": "Cliente Rinominato"},
        "create_order": lambda: {
            "customer_id": ids["customer_id"],
            "number": _unique("ORD-"),
            "kind": "purchase",
        },
        "update_order": lambda: {"description": "Rinnovo"},
        "create_category": lambda: {"type": "technical", "name": _unique("Area ")},
        "update_category": lambda: {"name": _unique("Area ")},
        "create_ticket": lambda: {
            "customer_code": ids["customer_code"],
            "type": "technical",
            "subject": "Nuovo problema",
            "description": "Descrizione.",
        },
        "update_ticket": lambda: {"subject": SUBJECT_MARK + " aggiornato"},
        "change_ticket_status": lambda: {"status": "in_progress"},
        "create_follow_up": lambda: {"subject": "Seguito", "description": "Ancora."},
        "create_reply": lambda: {"body": "Una risposta."},
        "create_article": lambda: {"title": _unique("Art "), "body": "Testo.", "locale": "it"},
        "update_article": lambda: {"title": _unique("Art ")},
        "suggest_answers": lambda: {"subject": "fattura", "customer_code": ids["customer_code"]},
        "confirm_email": lambda: {"token": "x" * 43},
        "create_attachment_link": lambda: {},
        "set_customer_mail_domains": lambda: {"domains": [_unique("d") + ".example"]},
        "set_ticket_cc": lambda: {"emails": []},
        "create_calendar": lambda: {**CALENDAR, "name": _unique("Cal ")},
        "replace_calendar": lambda: {**CALENDAR, "name": _unique("Cal ")},
        "create_sla_policy": lambda: {"name": _unique("Pol ")},
        "update_sla_policy": lambda: {"first_response_minutes": 30},
        "create_team": lambda: {"name": _unique("Team ")},
        "update_team": lambda: {"name": _unique("Team ")},
        "put_team_member": lambda: {},
        "create_routing_rule": lambda: {"name": _unique("R "), "team_id": ids["team_id"]},
        "update_routing_rule": lambda: {"active": True},
        "create_view": lambda: {"name": _unique("V ")},
        "create_macro": lambda: {"title": _unique("M "), "bodies": {"it": "Ciao."}},
        "update_macro": lambda: {"title": _unique("M ")},
        "apply_macro": lambda: {},
        "add_ticket_tags": lambda: {"tags": ["matrice"]},
        "create_webhook": lambda: {"url": "https://hooks.example.com/x", "kinds": ["*"]},
        "update_webhook": lambda: {"description": "Cambiato"},
        "rotate_webhook_secret": lambda: {"overlap_hours": 1},
        "import_tickets": lambda: {
            "tickets": [
                {
                    "external_id": _unique("X-"),
                    "customer_code": ids["customer_code"],
                    "type": "technical",
                    "subject": "Importato",
                    "description": "Testo.",
                    "created_at": "2025-01-01T00:00:00Z",
                }
            ]
        },
    }
    maker = bodies.get(operation_id)
    return maker() if maker else None


def _path(template: str, world: World, operation_id: str) -> str:
    values = dict(world.ids)
    if operation_id == "revoke_api_key":
        values["key_id"] = world.fresh_key_id()
    if operation_id == "delete_article":
        values["article_id"] = world.fresh_article_id()
    if operation_id in ("put_team_member", "delete_team_member"):
        values["user_id"] = world.ids["agent_id"]
    fresh: dict[str, tuple[str, str, Callable[[], dict[str, Any]]]] = {
        "delete_calendar": (
            "calendar_id",
            "/calendars",
            lambda: {**CALENDAR, "name": _unique("C")},
        ),
        "delete_sla_policy": ("policy_id", "/sla-policies", lambda: {"name": _unique("P ")}),
        "delete_team": ("team_id", "/teams", lambda: {"name": _unique("T ")}),
        "delete_routing_rule": (
            "rule_id",
            "/routing-rules",
            lambda: {"name": _unique("R "), "team_id": world.ids["team_id"]},
        ),
        "delete_view": ("view_id", "/views", lambda: {"name": _unique("V "), "shared": True}),
        "delete_macro": (
            "macro_id",
            "/macros",
            lambda: {"title": _unique("M "), "bodies": {"it": "Ciao."}, "shared": True},
        ),
        "delete_webhook": (
            "webhook_id",
            "/webhooks",
            lambda: {"url": "https://hooks.example.com/y", "kinds": ["*"]},
        ),
    }
    if operation_id in fresh:
        name, collection, body = fresh[operation_id]
        values[name] = world.fresh(collection, body())
    return template.format(**values)


def _call(world: World, caller: str, method: str, path: str, operation_id: str) -> httpx.Response:
    client = world.clients[caller]
    headers: dict[str, str] = {}
    if operation_id == "logout" and caller in world.emails:
        # A session of its own: logging out must not end the one the matrix goes on with.
        r = world.desk.anonymous().post(
            "/auth/login", json={"email": world.emails[caller], "password": PASSWORD}
        )
        headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    url = path if not path.startswith("/api/v1") else path.removeprefix("/api/v1")
    if not path.startswith("/api/v1"):
        # Operations at the root (health, readiness, metrics).
        base = str(client.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
        with httpx.Client(base_url=base, timeout=30, verify=SSL_CONTEXT) as root:
            return root.request(method, path, headers={**client.headers, **headers})
    if operation_id == "add_ticket_attachments":
        return client.post(
            url,
            files=[("files", ("b.png", samples.png(_unique("m")), "image/png"))],
            headers=headers,
        )
    if operation_id == "remove_ticket_tag":
        world.desk.admin().post(
            f"/tickets/{world.ids['ticket_id']}/tags", json={"tags": ["matrice"]}
        )
    if operation_id == "receive_mail":
        return client.post(
            url, content=_mail(), headers={**headers, "content-type": "message/rfc822"}
        )
    body = _body(operation_id, world)
    params = QUERIES.get(operation_id)
    return client.request(method, url, json=body, params=params, headers=headers)


QUERIES: dict[str, dict[str, str]] = {
    "search_solutions": {"q": "fattura"},
    **{
        f"report_{name}": {"from": "2026-01-01", "to": "2026-12-31"}
        for name in ("volume", "response_times", "sla", "backlog", "satisfaction", "top")
    },
}


def _outcome(status: int) -> str:
    """``allowed`` for a success; the status itself for a refusal or an error of the request."""
    return "allowed" if status < 400 else str(status)


def test_every_operation_answers_every_caller_as_the_table_says(desk: Desk) -> None:
    spec = json.loads((repo_root() / "openapi.json").read_text())
    world = _build(desk)
    problems: list[str] = []
    seen: dict[str, dict[str, str]] = {}
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            operation_id = operation["operationId"]
            expected = TABLE.get(operation_id)
            if expected is None:
                problems.append(f"{operation_id} ({method.upper()} {template}) is not in the table")
            for caller in CALLERS:
                path = _path(template, world, operation_id)
                r = _call(world, caller, method.upper(), path, operation_id)
                got = _outcome(r.status_code)
                seen.setdefault(operation_id, {})[caller] = got
                assert r.status_code < 500, (operation_id, caller, r.text)
                if expected is not None and expected.get(caller) != got:
                    problems.append(
                        f"{operation_id} as {caller}: {r.status_code}, table says "
                        f"{expected.get(caller)}"
                    )
                if 200 <= r.status_code < 300 and caller in ("customer", "other_customer"):
                    text = r.text
                    if INTERNAL_MARK in text:
                        problems.append(f"{operation_id} shows an internal note to {caller}")
                    if caller == "other_customer" and (
                        SUBJECT_MARK in text or world.ids["customer_code"] in text
                    ):
                        problems.append(f"{operation_id} shows another customer's data")
    if os.environ.get("SPORTELLO_AUTHZ_PRINT"):
        for operation_id, row in seen.items():
            print(f'    "{operation_id}": {json.dumps(row)},')
    assert not problems, "\n".join(problems)
