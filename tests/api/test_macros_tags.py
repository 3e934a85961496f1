"""Canned replies (macros) and tags on tickets, through HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Desk, problem

BODIES = {
    "it": "Caro {{ customer.name }}, ticket {{ ticket.number }} in lavorazione. {{ agent.name }}",
    "es": "Estimado {{ customer.name }}, ticket {{ ticket.number }} en curso. {{ agent.name }}",
    "en": "Dear {{ customer.name }}, ticket {{ ticket.number }} is in progress. {{ agent.name }}",
}


def macro(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    r = client.post("/macros", json={"title": "In lavorazione", "bodies": BODIES, **fields})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def apply(client: httpx.Client, ticket: dict[str, Any], m: dict[str, Any]) -> httpx.Response:
    return client.post(f"/tickets/{ticket['id']}/macros/{m['id']}")


def test_unknown_placeholders_and_bad_templates_are_refused_when_saved(desk: Desk) -> None:
    agent = desk.agent()
    for body in (
        "Ciao {{ cliente.nome }}",
        "Ciao {{ customer.password }}",
        "{{ customer.name.__class__ }}",
        "{{ customer['name'] }}",
        "{{ customer }}",
        "{% for x in ticket %}{% endfor %}",
        "Ciao {{ customer.name ",
    ):
        r = agent.post("/macros", json={"title": "x", "bodies": {"it": body}})
        assert problem(r, 422)["errors"][0]["loc"][:3] == ["body", "bodies", "it"], body
    problem(agent.post("/macros", json={"title": "x", "bodies": {"de": "Hallo"}}), 422)
    problem(agent.post("/macros", json={"title": "x", "bodies": {}}), 422)
    problem(agent.post("/macros", json={"title": "x", "bodies": {"it": "x" * 20_001}}), 422)
    m = macro(agent)
    problem(agent.patch(f"/macros/{m['id']}", json={"bodies": {"it": "{{ agente.nome }}"}}), 422)


def test_a_macro_cannot_render_more_than_a_reply_may_hold(desk: Desk) -> None:
    """A reply's body is at most 20,000 characters; a macro's filters must not make one of a
    megabyte (or a gigabyte: the sandbox bounds no string size): filters that widen or
    repeat text are refused when saved, and a body that still renders too long is 422 when
    applied, with no reply left."""
    agent = desk.agent()
    for body in (
        '{{ "%01000000d"|format(1) }}',
        "{{ ticket.subject|center(1000000) }}",
        "{{ ticket.subject|indent(1000000) }}",
        '{{ ticket.subject|replace("", "xxxxxxxxxx")|replace("x", "xxxxxxxxxx") }}',
        "{{ ticket.subject|wordwrap(1, wrapstring='xxxxxxxxxx') }}",
    ):
        r = agent.post("/macros", json={"title": "x", "bodies": {"it": body}})
        assert problem(r, 422)["errors"][0]["loc"][:3] == ["body", "bodies", "it"], body
    customer = desk.customer()
    ticket = desk.ticket(desk.customer_user(customer), customer, subject="S" * 200)
    kept = macro(agent, bodies={"it": "{{ ticket.subject|lower|truncate(30) }} {{ agent.name }}"})
    assert apply(agent, ticket, kept).status_code == 201
    long = macro(agent, bodies={"it": "{{ ticket.subject }}" * 1000})
    problem(apply(agent, ticket, long), 422)
    replies = agent.get(f"/tickets/{ticket['id']}/replies").json()["items"]
    assert len(replies) == 1 and len(replies[0]["body"]) < 100


def test_a_macro_replies_in_the_tickets_language_with_placeholders_filled(desk: Desk) -> None:
    agent, agent_row = desk.user("agent", name="Anna Verdi")
    spanish = desk.customer(name="Hortalizas García", locale="es")
    client = desk.customer_user(spanish)
    ticket = desk.ticket(client, spanish)
    m = macro(agent)
    r = apply(agent, ticket, m)
    assert r.status_code == 201, r.text
    reply = r.json()["reply"]
    assert reply["body"] == (
        f"Estimado Hortalizas García, ticket {ticket['number']} en curso. Anna Verdi"
    )
    assert reply["visibility"] == "public" and reply["author_id"] == agent_row["id"]
    assert [x["body"] for x in client.get(f"/tickets/{ticket['id']}/replies").json()["items"]] == [
        reply["body"]
    ]
    # A ticket in a language the macro lacks gets the English body.
    german = desk.customer(name="Rossi", locale="en")
    only_it = macro(agent, bodies={"it": "Ciao {{ customer.name }}"})
    other = desk.ticket(agent, german)
    assert apply(agent, other, only_it).json()["reply"]["body"] == "Ciao Rossi"


def test_an_internal_macro_is_a_note_and_its_actions_apply(desk: Desk) -> None:
    agent = desk.agent()
    fatture = desk.admin().post("/teams", json={"name": "Fatture"}).json()
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    m = macro(
        agent,
        visibility="internal",
        bodies={"it": "Inoltrato al fornitore per {{ ticket.number }}"},
        actions={
            "set_status": "waiting_customer",
            "add_tags": ["Fornitore", "fatture"],
            "team_id": fatture["id"],
        },
    )
    r = apply(agent, ticket, m)
    assert r.status_code == 201, r.text
    body = r.json()["ticket"]
    assert body["status"] == "waiting_customer"
    assert body["tags"] == ["fatture", "fornitore"]
    assert body["team_id"] == fatture["id"]
    assert client.get(f"/tickets/{ticket['id']}/replies").json()["items"] == []
    kinds = [e["kind"] for e in agent.get(f"/tickets/{ticket['id']}/events").json()["items"]]
    assert kinds[1:] == ["replied", "tagged", "tagged", "team_assigned", "status_changed"]


def test_an_internal_macro_never_hands_its_note_or_title_to_the_customer(desk: Desk) -> None:
    """A macro that resolves took its rendered body as the solution, whatever the body's
    visibility: an internal note became the solution the customer reads (ticket, timeline,
    mail, status page), and every move it made was noted with the macro's title."""
    agent = desk.agent()
    customer = desk.customer()
    client = desk.customer_user(customer)
    note = "Cliente insopportabile: chiudiamo senza verificare."
    internal = macro(
        agent,
        title="Liquidare il rompiscatole",
        visibility="internal",
        bodies={"it": note},
        actions={"set_status": "resolved"},
    )
    ticket = desk.ticket(client, customer)
    err = problem(apply(agent, ticket, internal), 422)
    assert err["errors"][0]["loc"] == ["path", "macro_id"]
    seen = client.get(f"/tickets/{ticket['id']}")
    assert seen.json()["status"] == "open" and seen.json()["solution"] is None
    assert agent.get(f"/tickets/{ticket['id']}/replies").json()["items"] == []  # all undone
    # A public macro that resolves: its answer is the solution, its title stays the desk's.
    public = macro(
        agent,
        title="Chiusura rapida",
        bodies={"it": "Abbiamo corretto la configurazione."},
        actions={"set_status": "resolved"},
    )
    assert apply(agent, ticket, public).status_code == 201
    assert client.get(f"/tickets/{ticket['id']}").json()["solution"] == (
        "Abbiamo corretto la configurazione."
    )
    events = client.get(f"/tickets/{ticket['id']}/events")
    assert "Chiusura rapida" not in events.text and "macro:" not in events.text
    assert "Chiusura rapida" not in client.get(f"/tickets/{ticket['id']}").text


def test_a_refused_action_undoes_the_whole_macro(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    ticket = desk.ticket(agent, customer)
    # open -> improvement is not a move: the reply must not stay either.
    m = macro(agent, actions={"set_status": "improvement", "add_tags": ["x"]})
    body = problem(apply(agent, ticket, m), 409)
    assert "in_progress" in body["allowed"]
    assert agent.get(f"/tickets/{ticket['id']}/replies").json()["items"] == []
    assert agent.get(f"/tickets/{ticket['id']}").json()["tags"] == []
    desk.set_status(ticket, "closed")
    problem(apply(agent, ticket, macro(agent)), 409)


def test_personal_and_shared_macros(desk: Desk) -> None:
    admin = desk.admin()
    anna, luca = desk.agent(), desk.agent()
    personal = macro(anna)
    assert personal["shared"] is False
    problem(luca.get(f"/macros/{personal['id']}"), 404)
    customer = desk.customer()
    ticket = desk.ticket(luca, customer)
    problem(apply(luca, ticket, personal), 404)
    problem(luca.post("/macros", json={"title": "x", "bodies": {"it": "x"}, "shared": True}), 403)
    shared = macro(admin, shared=True)
    assert {m["id"] for m in luca.get("/macros").json()["items"]} == {shared["id"]}
    assert apply(luca, ticket, shared).status_code == 201
    problem(luca.patch(f"/macros/{shared['id']}", json={"title": "Mio"}), 403)
    problem(luca.delete(f"/macros/{shared['id']}"), 403)
    assert anna.patch(f"/macros/{personal['id']}", json={"title": "Mio"}).json()["title"] == "Mio"
    assert anna.delete(f"/macros/{personal['id']}").status_code == 204
    client = desk.customer_user(customer)
    problem(client.get("/macros"), 403)
    problem(apply(client, ticket, shared), 403)


def test_tags_add_remove_filter_and_count(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    client = desk.customer_user(customer)
    a, b, c = (desk.ticket(client, customer) for _ in range(3))
    r = agent.post(f"/tickets/{a['id']}/tags", json={"tags": ["Fattura Elettronica", " sdi "]})
    assert r.status_code == 200 and r.json()["tags"] == ["fattura elettronica", "sdi"]
    agent.post(f"/tickets/{b['id']}/tags", json={"tags": ["sdi"]})
    agent.post(f"/tickets/{c['id']}/tags", json={"tags": ["stampa"]})
    agent.post(f"/tickets/{a['id']}/tags", json={"tags": ["sdi"]})  # already there: no-op

    def ids(**params: Any) -> set[int]:
        return {t["id"] for t in agent.get("/tickets", params=params).json()["items"]}

    assert ids(tag=["sdi"]) == {a["id"], b["id"]}
    assert ids(tag=["sdi", "stampa"]) == {a["id"], b["id"], c["id"]}
    assert ids(tag=["sdi", "fattura elettronica"], tag_mode="all") == {a["id"]}
    assert ids(tag=["SDI"]) == {a["id"], b["id"]}
    counts = agent.get("/tags").json()["items"]
    assert counts == [
        {"name": "sdi", "count": 2},
        {"name": "fattura elettronica", "count": 1},
        {"name": "stampa", "count": 1},
    ]
    assert agent.get("/tags", params={"prefix": "st"}).json()["items"] == [
        {"name": "stampa", "count": 1}
    ]
    r = agent.delete(f"/tickets/{a['id']}/tags/sdi")
    assert r.status_code == 200 and r.json()["tags"] == ["fattura elettronica"]
    problem(agent.delete(f"/tickets/{a['id']}/tags/sdi"), 404)
    assert agent.get("/tags", params={"prefix": "sd"}).json()["items"] == [
        {"name": "sdi", "count": 1}
    ]
    kinds = [(e["kind"], e["tag"]) for e in agent.get(f"/tickets/{a['id']}/events").json()["items"]]
    assert kinds[1:] == [
        ("tagged", "fattura elettronica"),
        ("tagged", "sdi"),
        ("untagged", "sdi"),
    ]
    # Customers: no tag events, no tagging, no tag list; others' tickets are 404.
    assert [e["kind"] for e in client.get(f"/tickets/{a['id']}/events").json()["items"]] == [
        "created"
    ]
    problem(client.post(f"/tickets/{a['id']}/tags", json={"tags": ["x"]}), 403)
    problem(client.get("/tags"), 403)
    stranger = desk.customer_user(desk.customer())
    problem(stranger.post(f"/tickets/{a['id']}/tags", json={"tags": ["x"]}), 404)
    problem(agent.post(f"/tickets/{a['id']}/tags", json={"tags": ["x" * 51]}), 422)
    problem(
        agent.post(f"/tickets/{a['id']}/tags", json={"tags": [f"t{i}" for i in range(21)]}), 422
    )
    too_many = [f"n{i}" for i in range(19)]
    problem(
        agent.post(f"/tickets/{a['id']}/tags", json={"tags": [*too_many, "n-last", "n-more"]}), 422
    )


def test_tags_at_creation_are_for_staff(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    ticket = desk.ticket(agent, customer, tags=["Urgente"])
    assert agent.get(f"/tickets/{ticket['id']}").json()["tags"] == ["urgente"]
    client = desk.customer_user(customer)
    body = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "s",
        "description": "d",
        "tags": ["x"],
    }
    problem(client.post("/tickets", json=body), 403)


def test_customers_may_not_filter_by_the_desks_organisation(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    for params in (
        {"tag": "x"},
        {"sla": "breached"},
        {"team_id": 1},
        {"sort": "due"},
        {"unassigned": "true"},
    ):
        problem(client.get("/tickets", params=params), 403)
    assert client.get("/tickets").status_code == 200
