"""A Python client generated from openapi.json, with no hand edits, runs a portal's flow
against the live server: log in, list with filters, open a ticket with a file, reply,
read the timeline, close. (The TypeScript side is type-checked by clients/ts in CI.)"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import repo_root
from tests.factories import PASSWORD, Desk
from tests.samples import png

PACKAGE = "sportello_generated_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("client")
    # POST /inbound/mail (issue 12) takes a raw mail as message/rfc822, which the generator
    # does not know: it is bytes, as application/octet-stream is.
    config = out / "config.json"
    config.write_text('{"content_type_overrides": {"message/rfc822": "application/octet-stream"}}')
    bin_dir = Path(sys.executable).parent
    generator = bin_dir / "openapi-python-client"
    if not generator.exists():
        pytest.fail("openapi-python-client is a test dependency: pip install -e '.[test]'")
    run = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(repo_root() / "openapi.json"),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(out / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Every operation made it into the client: the generator skipped nothing with a warning.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
            del sys.modules[name]


def _mod(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_python_client_runs_a_portal_flow(
    generated: ModuleType, desk: Desk, live_server: str
) -> None:
    models = _mod("models")
    types = _mod("types")
    login = _mod("api.auth.login")
    list_tickets = _mod("api.tickets.list_tickets")
    count_tickets = _mod("api.tickets.count_tickets")
    create_ticket = _mod("api.tickets.create_ticket")
    create_reply = _mod("api.replies.create_reply")
    list_events = _mod("api.tickets.list_ticket_events")
    change_status = _mod("api.tickets.change_ticket_status")

    customer = desk.customer(code="AGRI-BIANCHI")
    _, user = desk.user("customer", customer_id=customer["id"], name="Mario Rossi")
    agent = desk.agent(name="Anna Verdi")

    anonymous = generated.Client(base_url=live_server)
    token = login.sync(
        client=anonymous, body=models.LoginRequest(email=user["email"], password=PASSWORD)
    )
    assert isinstance(token, models.TokenRead), token
    client = generated.AuthenticatedClient(base_url=live_server, token=token.access_token)

    # Open a ticket with a screenshot: the multipart payload is the typed model.
    picture = png("generated")
    detail = create_ticket.sync(
        client=client,
        body=models.CreateTicketFilesBody(
            payload=models.TicketCreate(
                customer_code="AGRI-BIANCHI",
                type_=models.TicketType.TECHNICAL,
                subject="La stampa non parte",
                description="Allego la schermata dell'errore.",
                severity=models.Severity.BLOCKING,
            ),
            files=[
                types.File(
                    payload=io.BytesIO(picture), file_name="schermata.png", mime_type="image/png"
                )
            ],
        ),
    )
    assert isinstance(detail, models.TicketDetail), detail
    assert detail.status is models.TicketStatus.OPEN
    assert [a.filename for a in detail.attachments] == ["schermata.png"]
    assert detail.requester.name == "Mario Rossi"

    # The agent answers (through the plain API), the customer sees it unread in the list.
    r = agent.post(f"/tickets/{detail.id}/replies", json={"body": "Controlliamo subito."})
    assert r.status_code == 201, r.text
    page = list_tickets.sync(
        client=client,
        status=[models.TicketStatus.OPEN, models.TicketStatus.IN_PROGRESS],
        severity=models.Severity.BLOCKING,
        unread=True,
        limit=10,
    )
    assert isinstance(page, models.PageTicketItem), page
    [item] = page.items
    assert (item.number, item.unread, item.reply_count) == (detail.number, True, 1)
    assert item.last_activity.actor.name == "Anna Verdi"
    counts = count_tickets.sync(client=client)
    assert counts.total == 1

    reply = create_reply.sync(
        ticket_id=detail.id,
        client=client,
        body=models.ReplyCreate(body="Grazie, attendo.", visibility=models.Visibility.PUBLIC),
    )
    assert isinstance(reply, models.ReplyRead), reply

    timeline = list_events.sync(ticket_id=detail.id, client=client, limit=100)
    assert isinstance(timeline, models.EventList), timeline
    kinds = [e.kind for e in timeline.items]
    assert kinds[0] == "created" and kinds.count("replied") == 2
    assert timeline.next_cursor is None

    # An illegal move is a typed problem with its type; closing is allowed.
    refused = change_status.sync(
        ticket_id=detail.id,
        client=client,
        body=models.StatusChange(status=models.TicketStatus.RESOLVED, solution="Fatto da me."),
    )
    assert isinstance(refused, models.Problem), refused
    assert refused.type_ == models.ProblemType.URN_SPORTELLO_PROBLEM_ILLEGAL_TRANSITION.value
    closed = change_status.sync(
        ticket_id=detail.id,
        client=client,
        body=models.StatusChange(status=models.TicketStatus.CLOSED),
    )
    assert isinstance(closed, models.TicketDetail), closed
    assert closed.status is models.TicketStatus.CLOSED
    assert closed.allowed_transitions == []
