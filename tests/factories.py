"""Small factories that build the world of a test through the API (the admin straight in the DB)."""

from __future__ import annotations

import itertools
import ssl
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from app.config import Settings
from app.services.passwords import hasher_for

if TYPE_CHECKING:
    from tests.conftest import Database

PASSWORD = "correct horse battery"
# Building an SSL context costs ~80 ms and the tests speak plain HTTP: build it once.
SSL_CONTEXT = ssl.create_default_context()
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}"


class Desk:
    def __init__(self, base_url: str, db: Database, settings: Settings) -> None:
        self.base_url = base_url
        self.db = db
        self.settings = settings
        self._clients: list[httpx.Client] = []
        self._admin: httpx.Client | None = None

    def close(self) -> None:
        for c in self._clients:
            c.close()

    def anonymous(self) -> httpx.Client:
        c = httpx.Client(base_url=self.base_url, timeout=30, verify=SSL_CONTEXT)
        self._clients.append(c)
        return c

    def with_token(self, token: str) -> httpx.Client:
        c = self.anonymous()
        c.headers["Authorization"] = f"Bearer {token}"
        return c

    def login(self, email: str, password: str = PASSWORD) -> httpx.Client:
        r = self.anonymous().post("/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return self.with_token(r.json()["access_token"])

    def admin(self) -> httpx.Client:
        """An admin, created in the database (the API needs one to create anyone)."""
        if self._admin is None:
            email = unique("admin") + "@sportello.example"
            now = datetime.now(UTC)
            if self.db.dialect == "sqlite":
                now = now.replace(tzinfo=None)
            self.db.execute(
                "INSERT INTO user_account (email, name, role, locale, password_hash, is_active,"
                " created_at, updated_at) VALUES (:email, 'Ada Admin', 'admin', 'en', :hash, true,"
                " :now, :now)",
                email=email,
                hash=hasher_for(self.settings).hash(PASSWORD),
                now=now,
            )
            self._admin = self.login(email)
        return self._admin

    def user(
        self, role: str = "customer", customer_id: int | None = None, **fields: Any
    ) -> tuple[httpx.Client, dict[str, Any]]:
        body = {
            "email": unique(role) + "@example.com",
            "name": f"{role.title()} {next(_seq)}",
            "password": PASSWORD,
            "role": role,
            "customer_id": customer_id,
            **fields,
        }
        r = self.admin().post("/users", json=body)
        assert r.status_code == 201, r.text
        return self.login(body["email"]), r.json()

    def agent(self, **fields: Any) -> httpx.Client:
        return self.user("agent", **fields)[0]

    def customer(self, **fields: Any) -> dict[str, Any]:
        body = {"code": unique("C"), "name": "Cliente di prova S.r.l.", "locale": "it", **fields}
        r = self.admin().post("/customers", json=body)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def customer_user(self, customer: dict[str, Any], **fields: Any) -> httpx.Client:
        return self.user("customer", customer_id=customer["id"], **fields)[0]

    def order(self, customer: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {"customer_id": customer["id"], "number": unique("ORD-"), "kind": "purchase"}
        body.update(fields)
        r = self.admin().post("/orders", json=body)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def api_key(self, *scopes: str) -> httpx.Client:
        r = self.admin().post("/api-keys", json={"name": unique("key"), "scopes": list(scopes)})
        assert r.status_code == 201, r.text
        return self.with_token(r.json()["key"])

    # --- tickets -------------------------------------------------------------------------

    def category(
        self, type: str = "technical", name: str | None = None, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {"type": type, "name": name or unique("Area "), "parent_id": parent and parent["id"]}
        r = self.admin().post("/categories", json=body)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def ticket(
        self, client: httpx.Client, customer: dict[str, Any], **overrides: Any
    ) -> dict[str, Any]:
        """Open a ticket through the API as ``client``; ``overrides`` replace body fields."""
        body = {
            "customer_code": customer["code"],
            "type": "technical",
            "subject": "La stampa della fattura non parte",
            "description": "Dal menu Vendite la stampa della fattura resta bloccata.",
            **overrides,
        }
        r = client.post("/tickets", json=body)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def move(
        self, client: httpx.Client, ticket: dict[str, Any], status: str, **body: Any
    ) -> dict[str, Any]:
        """Change the status through the API (a solution is made up for ``resolved``)."""
        if status == "resolved":
            body.setdefault("solution", "Reinstallato il driver della stampante.")
        r = client.post(f"/tickets/{ticket['id']}/status", json={"status": status, **body})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def reply(
        self, client: httpx.Client, ticket: dict[str, Any], body: str = "Grazie, provo subito.",
        visibility: str = "public",
    ) -> dict[str, Any]:  # fmt: skip
        r = client.post(
            f"/tickets/{ticket['id']}/replies", json={"body": body, "visibility": visibility}
        )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def db_time(self, value: datetime) -> Any:
        """``value`` as the app's UTC column stores it (on SQLite, its exact text form)."""
        if self.db.dialect == "sqlite":
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def set_status(self, ticket: dict[str, Any], status: str) -> None:
        """Put a ticket in ``status`` straight in the database (for tests not about moving it)."""
        now = self.db_time(datetime.now(UTC))
        self.db.execute(
            "UPDATE ticket SET status = :status, solution = coalesce(:solution, solution),"
            " resolved_at = :resolved_at, closed_at = :closed_at, status_changed_at = :now"
            " WHERE id = :id",
            status=status,
            solution="Risolto in prova." if status == "resolved" else None,
            resolved_at=now if status == "resolved" else None,
            closed_at=now if status == "closed" else None,
            now=now,
            id=ticket["id"],
        )


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """Assert ``r`` is an RFC 9457 problem of ``status``; return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body
