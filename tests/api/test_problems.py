"""Every error is an RFC 9457 problem detail carrying the request id; nothing internal leaks."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import LiveServer
from tests.factories import SSL_CONTEXT, Desk, unique

SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    for field in ("type", "title", "detail"):
        assert isinstance(body[field], str) and body[field], field
    assert body["request_id"] == r.headers["x-request-id"]
    assert SANE_ID.match(body["request_id"])
    return body


def test_every_kind_of_error_is_a_problem_with_the_request_id(desk: Desk) -> None:
    admin = desk.admin()
    anon = desk.anonymous()
    customer = desk.customer(code="TAKEN")
    user = desk.customer_user(customer)
    calls: list[tuple[int, Callable[[], httpx.Response]]] = [
        (
            400,
            lambda: admin.post(
                "/customers", content=b'{"code": ', headers={"content-type": "application/json"}
            ),
        ),
        (400, lambda: admin.get("/customers", params={"cursor": "nonsense"})),
        (401, lambda: anon.get("/me")),
        (403, lambda: user.get("/customers")),
        (404, lambda: admin.get("/customers/999999")),
        (404, lambda: admin.get("/no/such/path")),
        (405, lambda: admin.delete("/customers")),
        (409, lambda: admin.post("/customers", json={"code": "taken", "name": "Again"})),
        (422, lambda: admin.post("/customers", json={"code": "ok"})),
        (
            422,
            lambda: admin.post(
                "/orders", json={"customer_id": 999999, "number": "X", "kind": "purchase"}
            ),
        ),
    ]
    for status, call in calls:
        assert_problem(call(), status)


def test_framework_404_and_405_are_problems_too(
    client: httpx.Client, root_client: httpx.Client
) -> None:
    for r in (
        client.get("/nothing-here"),
        root_client.get("/nowhere"),
        client.get("/customers/1/x"),
    ):
        body = assert_problem(r, 404)
        assert "Traceback" not in r.text
        assert body["instance"] == r.request.url.path
    r = client.put("/auth/login", json={})
    assert_problem(r, 405)
    assert "POST" in r.headers["allow"]
    assert_problem(root_client.post("/healthz"), 405)


def test_a_422_lists_errors_and_never_echoes_the_input(desk: Desk) -> None:
    customer = desk.customer()
    secret = "Zq9!x7"  # too short to be a password
    body = {
        "email": unique("u") + "@example.com",
        "name": "Someone",
        "password": secret,
        "role": "customer",
        "customer_id": customer["id"],
    }
    r = desk.admin().post("/users", json=body)
    problem = assert_problem(r, 422)
    assert secret not in r.text
    [issue] = problem["errors"]
    assert set(issue) == {"loc", "msg", "type"}
    assert issue["loc"] == ["body", "password"]
    assert issue["type"] == "string_too_short"
    assert issue["msg"]


@pytest.mark.parametrize(
    "extra",
    [
        {"is_superuser": "Zq9!x7-smuggled"},
        {"role": "Zq9!x7-smuggled"},
        {"email": "Zq9!x7-smuggled"},
        {"customer_id": "Zq9!x7-smuggled"},
        {"locale": ["Zq9!x7-smuggled"]},
    ],
)
def test_no_validation_error_echoes_the_value(desk: Desk, extra: dict[str, Any]) -> None:
    body = {"email": "a@example.com", "name": "A", "password": "long enough", **extra}
    r = desk.admin().post("/users", json=body)
    problem = assert_problem(r, 422)
    assert "Zq9!x7" not in r.text
    assert all(set(issue) == {"loc", "msg", "type"} for issue in problem["errors"])


def test_malformed_json_is_400_without_the_body_echoed(desk: Desk) -> None:
    r = desk.anonymous().post(
        "/auth/login",
        content=b'{"email": "a@example.com", "password": "Zq9!x7-typed-secret"',
        headers={"content-type": "application/json"},
    )
    assert_problem(r, 400)
    assert "Zq9!x7" not in r.text


def test_a_sane_incoming_request_id_is_echoed(desk: Desk, root_client: httpx.Client) -> None:
    incoming = "trace-1234.abc_DEF"
    r = root_client.get("/healthz", headers={"X-Request-ID": incoming})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == incoming
    r = desk.anonymous().get("/me", headers={"X-Request-ID": incoming})
    assert assert_problem(r, 401)["request_id"] == incoming


@pytest.mark.parametrize("incoming", ["x" * 500, "has spaces in it", "a;b", "", "x" * 65])
def test_an_insane_incoming_request_id_is_replaced(client: httpx.Client, incoming: str) -> None:
    r = client.get("/me", headers={"X-Request-ID": incoming})
    body = assert_problem(r, 401)
    assert body["request_id"] != incoming
    if incoming:
        assert incoming not in r.text


def test_each_request_gets_its_own_id(root_client: httpx.Client) -> None:
    ids = {root_client.get("/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(SANE_ID.match(i) for i in ids)


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def failing_server(settings: Settings) -> Iterator[str]:
    """The real app, plus a route that fails the way a bug would."""
    server = LiveServer(settings)

    @server.app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret sauce at /srv/app/secret.py line 42")

    @server.app.get("/boom/{token}", include_in_schema=False)
    async def boom_with_token(token: str) -> None:
        raise RuntimeError("a bug on a route whose path carries a token")

    base_url = server.start()
    yield base_url
    server.stop()


@pytest.fixture
def error_log() -> Iterator[Recorder]:
    recorder = Recorder()
    logger = logging.getLogger("sportello.errors")
    logger.addHandler(recorder)
    yield recorder
    logger.removeHandler(recorder)


def test_an_unexpected_error_is_a_bare_500_and_a_logged_traceback(
    failing_server: str, error_log: Recorder
) -> None:
    with httpx.Client(base_url=failing_server, timeout=30, verify=SSL_CONTEXT) as c:
        r = c.get("/boom", headers={"X-Request-ID": "boom-req-1"})
    body = assert_problem(r, 500)
    assert body["request_id"] == "boom-req-1"
    for leak in ("secret sauce", "RuntimeError", "Traceback", "secret.py", "/srv/"):
        assert leak not in r.text
    [line] = [line for line in error_log.lines if "boom-req-1" in line]
    assert line.startswith("ERROR sportello.errors ")
    assert "GET /boom" in line
    assert "Traceback" in line
    assert 'RuntimeError("secret sauce' in line or "RuntimeError: secret sauce" in line


def test_an_unexpected_error_logs_the_route_not_the_token_in_its_path(
    failing_server: str, error_log: Recorder
) -> None:
    """Public-link and confirmation paths carry their token: the error log names the route's
    template, as the access log does, so whoever reads the logs cannot open the link."""
    token = "Tk-4f9a0c1d2e3b4a5f6e7d8c9b0a1f2e3d"
    with httpx.Client(base_url=failing_server, timeout=30, verify=SSL_CONTEXT) as c:
        r = c.get(f"/boom/{token}", headers={"X-Request-ID": "boom-req-2"})
    assert_problem(r, 500)
    [line] = [line for line in error_log.lines if "boom-req-2" in line]
    assert "GET /boom/{token}" in line
    assert token not in line


def test_the_server_keeps_serving_after_an_unexpected_error(
    failing_server: str, error_log: Recorder
) -> None:
    with httpx.Client(base_url=failing_server, timeout=30, verify=SSL_CONTEXT) as c:
        assert c.get("/boom").status_code == 500
    with httpx.Client(base_url=failing_server, timeout=30, verify=SSL_CONTEXT) as c:
        assert c.get("/healthz").status_code == 200
    assert len(error_log.lines) == 1
