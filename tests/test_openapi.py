"""openapi.json at the root is the contract front ends generate clients from."""

from __future__ import annotations

import json
from collections import Counter

import httpx

from tests.conftest import repo_root

METHODS = {"get", "post", "put", "patch", "delete"}
NO_LOGIN = ("/api/v1/auth/login", "/api/v1/public/", "/api/v1/auth/email-confirmations")


def test_the_committed_openapi_json_equals_what_the_app_serves(root_client: httpx.Client) -> None:
    served = root_client.get("/openapi.json").json()
    committed = json.loads((repo_root() / "openapi.json").read_text(encoding="utf-8"))
    assert served == committed, "run `sportello openapi` and commit openapi.json"


def test_every_operation_has_an_id_a_tag_and_documented_problems(
    root_client: httpx.Client,
) -> None:
    spec = root_client.get("/openapi.json").json()
    ids = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            ids.append(op["operationId"])
            assert op.get("tags"), f"{method} {path} has no tag"
            if path.startswith("/api/v1/") and not path.startswith(NO_LOGIN):
                assert "401" in op["responses"], f"{method} {path} documents no 401"
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        code,
                    )
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_docs_are_served(root_client: httpx.Client) -> None:
    r = root_client.get("/docs")
    assert r.status_code == 200
    assert "swagger" in r.text.lower()
