"""Contract fuzzing: schemathesis (pinned in pyproject) against the app's own schema, every
operation, as an admin, an agent, a customer and an API key, with the checks for server
errors, response schema conformance and status-code conformance: zero failures.

CI runs a short, reproducible pass (a fixed seed, a few examples per operation); the
README gives the command for a longer run (``SPORTELLO_FUZZ_EXAMPLES=200``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import repo_root
from tests.factories import Desk

EXAMPLES = int(os.environ.get("SPORTELLO_FUZZ_EXAMPLES", "2"))
SEED = int(os.environ.get("SPORTELLO_FUZZ_SEED", "20261201"))
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


def _schemathesis() -> list[str]:
    return [str(Path(sys.executable).parent / "schemathesis")]


def _world(desk: Desk) -> dict[str, str]:
    """Something of everything, so that ids in paths often name real rows."""
    admin = desk.admin()
    customer = desk.customer()
    desk.order(customer)
    user = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(user, customer)
    user.post(f"/tickets/{ticket['id']}/replies", json={"body": "Una risposta."})
    admin.post(
        "/kb/articles",
        json={"title": "Come fare", "body": "Testo.", "locale": "it", "published": True},
    )
    key = desk.api_key(
        "tickets:read",
        "tickets:write",
        "customers:read",
        "customers:write",
        "orders:read",
        "orders:write",
        "kb:read",
        "kb:write",
    )
    return {
        "customer": user.headers["Authorization"],
        "agent": agent.headers["Authorization"],
        "api_key": key.headers["Authorization"],
        "admin": admin.headers["Authorization"],
    }


def test_every_operation_holds_its_contract_for_every_kind_of_caller(
    desk: Desk, live_server: str, tmp_path: Path
) -> None:
    identities = _world(desk)
    failures: list[str] = []
    summaries: list[str] = []
    # The admin goes last: its fuzzing deactivates users and revokes keys.
    for who, authorization in identities.items():
        done = subprocess.run(
            [
                *_schemathesis(),
                "run",
                f"{live_server}/openapi.json",
                "--url",
                live_server,
                "--header",
                f"Authorization: {authorization}",
                "--checks",
                CHECKS,
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                str(SEED),
                "--phases",
                "examples,fuzzing",
                "--workers",
                "1",
                "--no-shrink",
                "--generation-database",
                "none",
                "--exclude-operation-id",
                "logout",
                "--suppress-health-check",
                "all",
                "--no-color",
                "--request-timeout",
                "30",
            ],
            cwd=tmp_path,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.contract.schemathesis_hooks",
                "PYTHONPATH": str(repo_root()),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            failures.append(f"--- as {who} ---\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}")
        else:
            summaries.append(f"--- as {who} ---\n{done.stdout[-1500:]}")
    if failures:
        pytest.fail("\n".join(failures))
    print("\n".join(summaries))
