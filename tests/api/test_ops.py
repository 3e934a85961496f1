"""Operations endpoints at the root: liveness, readiness, Prometheus metrics, the docs."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from tests.conftest import METRICS_TOKEN, LiveServer
from tests.factories import SSL_CONTEXT, Desk

REQUESTS = "sportello_http_requests"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def request_counts(root_client: httpx.Client) -> dict[tuple[str, str, str], float]:
    r = root_client.get("/metrics", headers=SCRAPER)
    assert r.status_code == 200
    counts: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(r.text):
        if family.name != REQUESTS:
            continue
        for sample in family.samples:
            if sample.name == REQUESTS + "_total":
                labels = sample.labels
                counts[(labels["method"], labels["route"], labels["status"])] = sample.value
    return counts


def test_healthz_answers_without_credentials(root_client: httpx.Client) -> None:
    r = root_client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_checks_the_database(root_client: httpx.Client) -> None:
    r = root_client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_metrics_need_the_scraper_token_an_admin_or_a_metrics_key(
    desk: Desk, root_client: httpx.Client
) -> None:
    r = root_client.get("/metrics")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert root_client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert root_client.get("/metrics", headers=SCRAPER).status_code == 200
    callers = [
        (desk.customer_user(desk.customer()), 403),
        (desk.agent(), 403),
        (desk.admin(), 200),
        (desk.api_key("tickets:read"), 403),
        (desk.api_key("metrics:read"), 200),
    ]
    for who, expected in callers:
        r = root_client.get("/metrics", headers={"Authorization": who.headers["Authorization"]})
        assert r.status_code == expected, r.text
        assert r.headers["cache-control"] == "no-store"


def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={
            "database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/nowhere",
            "auto_migrate": False,
        }
    )
    server = LiveServer(unreachable)
    base_url = server.start()
    try:
        with httpx.Client(base_url=base_url, timeout=30, verify=SSL_CONTEXT) as c:
            assert c.get("/healthz").status_code == 200
            r = c.get("/readyz")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            assert "nobody" not in r.text and "9/nowhere" not in r.text
    finally:
        server.stop()


def test_metrics_count_requests_by_route_template(desk: Desk, root_client: httpx.Client) -> None:
    admin = desk.admin()
    customer = desk.customer()
    template = ("GET", "/api/v1/customers/{customer_id}", "200")
    missing = ("GET", "/api/v1/customers/{customer_id}", "404")
    before = request_counts(root_client)
    assert admin.get(f"/customers/{customer['id']}").status_code == 200
    assert admin.get(f"/customers/{customer['id']}").status_code == 200
    assert admin.get("/customers/999999").status_code == 404
    after = request_counts(root_client)
    assert after[template] - before.get(template, 0) == 2
    assert after[missing] - before.get(missing, 0) == 1
    # Labels are route templates: never a raw path with an id in it.
    routes = {route for _, route, _ in after}
    assert f"/api/v1/customers/{customer['id']}" not in routes
    assert all("999999" not in route for route in routes)


def test_metrics_are_prometheus_text_with_latencies(root_client: httpx.Client) -> None:
    root_client.get("/healthz")
    r = root_client.get("/metrics", headers=SCRAPER)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(r.text)}
    assert {REQUESTS, "sportello_http_request_duration_seconds"} <= names
    assert 'route="/healthz"' in r.text


def test_unknown_paths_share_one_label(root_client: httpx.Client) -> None:
    root_client.get("/scan/wp-admin-12345")
    root_client.get("/scan/.env-67890")
    counts = request_counts(root_client)
    routes = {route for _, route, _ in counts}
    assert not any("scan" in route for route in routes)
    assert ("GET", "unmatched", "404") in counts


def test_docs_and_the_schema_are_served(root_client: httpx.Client) -> None:
    r = root_client.get("/docs")
    assert r.status_code == 200
    assert "/openapi.json" in r.text
    spec = root_client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/customers" in spec.json()["paths"]
