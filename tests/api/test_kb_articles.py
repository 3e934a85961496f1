"""Knowledge-base articles: staff write them, customers read the published ones, all search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Desk

SDI = {
    "title": "Fattura elettronica scartata dallo SdI",
    "body": "Correggi la fattura indicata nella **notifica di scarto** e reinviala.",
    "locale": "it",
}


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def write(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    r = client.post("/kb/articles", json={**SDI, "published": True, **fields})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def titles(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [a["title"] for a in r.json()["items"]]


@pytest.mark.parametrize("staff", ["agent", "admin"])
def test_staff_write_an_article_and_it_starts_as_a_draft(desk: Desk, staff: str) -> None:
    client = desk.agent() if staff == "agent" else desk.admin()
    r = client.post("/kb/articles", json=SDI)
    assert r.status_code == 201, r.text
    article = r.json()
    assert r.headers["location"] == f"/api/v1/kb/articles/{article['id']}"
    assert {k: article[k] for k in SDI} == SDI
    assert article["published"] is False and article["category_id"] is None
    assert article["created_at"] == article["updated_at"]
    assert client.get(f"/kb/articles/{article['id']}").json() == article


def test_customers_read_published_articles_and_never_drafts(desk: Desk) -> None:
    agent = desk.agent()
    published = write(agent, title="Pubblicato")
    draft = write(agent, title="Bozza", published=False)
    customer = desk.customer_user(desk.customer())
    assert customer.get(f"/kb/articles/{published['id']}").json() == published
    hidden = problem(customer.get(f"/kb/articles/{draft['id']}"), 404)
    missing = problem(customer.get("/kb/articles/999999"), 404)
    assert hidden["detail"] == missing["detail"]
    assert titles(customer.get("/kb/articles")) == ["Pubblicato"]
    # Asking for drafts shows a customer nothing, not an error, and not the drafts.
    assert titles(customer.get("/kb/articles", params={"published": "false"})) == []
    assert titles(customer.get("/kb/articles", params={"q": "bozza"})) == []
    assert titles(agent.get("/kb/articles")) == ["Pubblicato", "Bozza"]


def test_customers_may_not_write_articles(desk: Desk) -> None:
    article = write(desk.agent())
    customer = desk.customer_user(desk.customer())
    problem(customer.post("/kb/articles", json=SDI), 403)
    problem(customer.patch(f"/kb/articles/{article['id']}", json={"title": "Mio"}), 403)
    problem(customer.delete(f"/kb/articles/{article['id']}"), 403)
    assert desk.agent().get(f"/kb/articles/{article['id']}").json() == article


def test_api_keys_need_the_knowledge_scopes(desk: Desk) -> None:
    article = write(desk.agent())
    reader = desk.api_key("kb:read")
    assert reader.get(f"/kb/articles/{article['id']}").status_code == 200
    assert titles(reader.get("/kb/articles")) == [SDI["title"]]
    problem(reader.post("/kb/articles", json=SDI), 403)
    writer = desk.api_key("kb:read", "kb:write")
    assert writer.post("/kb/articles", json=SDI).status_code == 201
    tickets_only = desk.api_key("tickets:read", "tickets:write")
    problem(tickets_only.get("/kb/articles"), 403)
    problem(tickets_only.get(f"/kb/articles/{article['id']}"), 403)
    problem(tickets_only.post("/kb/articles", json=SDI), 403)


def test_publishing_and_unpublishing_decide_what_customers_see(desk: Desk) -> None:
    agent = desk.agent()
    article = write(agent, published=False)
    customer = desk.customer_user(desk.customer())
    url = f"/kb/articles/{article['id']}"
    problem(customer.get(url), 404)
    r = agent.patch(url, json={"published": True})
    assert r.status_code == 200, r.text
    assert r.json()["published"] is True
    assert r.json()["updated_at"] >= article["updated_at"]
    assert customer.get(url).status_code == 200
    assert agent.patch(url, json={"published": False}).status_code == 200
    problem(customer.get(url), 404)


def test_an_edit_changes_what_the_search_finds(desk: Desk) -> None:
    agent = desk.agent()
    article = write(agent)
    r = agent.patch(
        f"/kb/articles/{article['id']}",
        json={"title": "Certificato SSL scaduto", "body": "Rinnova il certificato dal pannello."},
    )
    assert r.status_code == 200, r.text
    assert r.json()["locale"] == "it" and r.json()["published"] is True
    assert titles(agent.get("/kb/articles", params={"q": "certificati"})) == [
        "Certificato SSL scaduto"
    ]
    assert titles(agent.get("/kb/articles", params={"q": "scarto"})) == []


def test_a_deleted_article_is_gone_and_no_longer_found(desk: Desk) -> None:
    agent = desk.agent()
    article = write(agent)
    kept = write(agent, title="Fattura duplicata: codice 00404")
    assert agent.delete(f"/kb/articles/{article['id']}").status_code == 204
    problem(agent.get(f"/kb/articles/{article['id']}"), 404)
    problem(agent.delete(f"/kb/articles/{article['id']}"), 404)
    problem(agent.patch(f"/kb/articles/{article['id']}", json={"title": "x"}), 404)
    assert titles(agent.get("/kb/articles", params={"q": "fattura"})) == [kept["title"]]
    # Nor suggested.
    r = agent.post("/kb/suggest", json={"subject": "Fattura scartata, notifica di scarto"})
    assert [a["id"] for a in r.json()["articles"]] == [kept["id"]]


def test_filters_by_locale_category_with_its_sub_areas_and_published(desk: Desk) -> None:
    admin = desk.admin()
    area = admin.post("/categories", json={"type": "technical", "name": "Fatturazione"}).json()
    sub = admin.post(
        "/categories", json={"type": "technical", "name": "Invio allo SdI", "parent_id": area["id"]}
    ).json()
    other = admin.post("/categories", json={"type": "order", "name": "Dominio e hosting"}).json()
    agent = desk.agent()
    write(agent, title="Area", category_id=area["id"])
    write(agent, title="Sotto-area", category_id=sub["id"], published=False)
    write(agent, title="Dominio", category_id=other["id"], locale="es")
    write(agent, title="Senza categoria", locale="en")
    listed = agent.get
    assert titles(listed("/kb/articles", params={"category_id": area["id"]})) == [
        "Area",
        "Sotto-area",
    ]
    assert titles(listed("/kb/articles", params={"category_id": sub["id"]})) == ["Sotto-area"]
    assert titles(listed("/kb/articles", params={"locale": "es"})) == ["Dominio"]
    assert titles(listed("/kb/articles", params={"published": "false"})) == ["Sotto-area"]
    assert titles(
        listed("/kb/articles", params={"published": "true", "category_id": area["id"]})
    ) == ["Area"]
    # Moving an article out of its category.
    art = write(agent, title="Spostato", category_id=sub["id"])
    r = agent.patch(f"/kb/articles/{art['id']}", json={"category_id": None})
    assert r.status_code == 200 and r.json()["category_id"] is None


def test_pages_by_id_without_a_search(desk: Desk) -> None:
    agent = desk.agent()
    for n in range(5):
        write(agent, title=f"Articolo {n}")
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = agent.get("/kb/articles", params=params).json()
        seen += [a["title"] for a in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"Articolo {n}" for n in range(5)] and cursor is None


def test_search_needs_every_word_and_ranks_title_matches_first(desk: Desk) -> None:
    agent = desk.agent()
    write(
        agent,
        title="Pagamento del canone",
        body="Se la fattura del canone risulta non pagata, verifica il bonifico.",
    )
    write(agent, title="Fatture non pagate", body="Il sollecito parte dopo 30 giorni.")
    write(agent, title="Fattura scartata", body="Correggi e reinvia.")
    # Other forms of the words, any accents, any case: "FATTURE pagate" finds "fattura ... pagata".
    found = titles(agent.get("/kb/articles", params={"q": "FATTURE pagàte"}))
    assert found == ["Fatture non pagate", "Pagamento del canone"]


def test_search_pages_are_keyset_on_relevance(desk: Desk) -> None:
    agent = desk.agent()
    # Five articles matching "dominio", more or less strongly.
    for n in range(5):
        write(
            agent,
            title="Dominio " * (n % 2) + f"nota {n}",
            body="Il dominio " * (n + 1) + "scade.",
        )
    everything = agent.get("/kb/articles", params={"q": "dominio", "limit": 100}).json()
    assert everything["next_cursor"] is None
    ranked = [a["title"] for a in everything["items"]]
    assert len(ranked) == 5
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "dominio", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = agent.get("/kb/articles", params=params).json()
        seen += [a["title"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ranked
    # A cursor of another kind of page (or of nothing) is a 400.
    by_id = agent.get("/kb/articles", params={"limit": 1}).json()["next_cursor"]
    problem(agent.get("/kb/articles", params={"q": "dominio", "cursor": by_id}), 400)
    problem(agent.get("/kb/articles", params={"cursor": cursor or "bm90IGEgY3Vyc29y"}), 400)


def test_a_search_of_only_common_words_is_422(desk: Desk) -> None:
    err = problem(desk.agent().get("/kb/articles", params={"q": "il la de the"}), 422)
    assert err["errors"][0]["loc"] == ["query", "q"]


BAD_FIELDS: list[tuple[str, Any]] = [
    ("title", ""),
    ("title", "   "),
    ("title", "x" * 201),
    ("title", "a\x00b"),
    ("body", ""),
    ("body", " \n "),
    ("body", "x" * 100_001),
    ("locale", "fr"),
    ("locale", None),
    ("published", "maybe"),
    ("category_id", 0),
    ("category_id", 2**31),
    ("category_id", 999999),
    ("author", "me"),
]


def test_bad_fields_are_422_and_nothing_is_written(desk: Desk) -> None:
    agent = desk.agent()
    for field, value in BAD_FIELDS:
        err = problem(agent.post("/kb/articles", json={**SDI, field: value}), 422)
        assert any(e["loc"][-1] == field for e in err["errors"]), (field, err)
    assert titles(agent.get("/kb/articles")) == []
    article = write(agent)
    for field in ("title", "body", "locale", "published"):
        problem(agent.patch(f"/kb/articles/{article['id']}", json={field: None}), 422)
    problem(agent.patch(f"/kb/articles/{article['id']}", json={"category_id": 999999}), 422)
    assert agent.get(f"/kb/articles/{article['id']}").json() == article


def test_bodies_are_bounded_json(desk: Desk) -> None:
    agent = desk.agent()
    # A body past the bound is refused as it streams in, whatever it claims to be.
    huge = b'{"title": "x", "locale": "it", "body": "' + b"x" * (1024 * 1024) + b'"}'
    headers = {"content-type": "application/json"}
    problem(agent.post("/kb/articles", content=huge, headers=headers), 413)
    problem(agent.post("/kb/suggest", content=huge, headers=headers), 413)
    # Yet the longest body an article may have fits, even spelt in JSON escapes.
    longest = "\\u00e8" * 100_000
    raw = '{"title": "Lungo", "locale": "it", "body": "' + longest + '"}'
    r = agent.post("/kb/articles", content=raw.encode(), headers=headers)
    assert r.status_code == 201, r.text[:200]
    assert r.json()["body"] == "è" * 100_000
    problem(agent.post("/kb/articles", content=b"{not json", headers=headers), 400)
    problem(agent.post("/kb/articles", content=b"", headers=headers), 400)
    problem(
        agent.post("/kb/articles", content=b"title=x", headers={"content-type": "text/plain"}), 415
    )
