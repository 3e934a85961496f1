"""Labels and category names in the caller's language: ?lang, the user's locale, the browser's."""

from __future__ import annotations

from typing import Any

from tests.factories import Desk, problem

WAITING = {
    "it": "In attesa del cliente",
    "es": "En espera del cliente",
    "en": "Waiting for the customer",
}


def labels(body: dict[str, Any], part: str) -> dict[str, str]:
    return {item["value"]: item["label"] for item in body[part]}


def test_meta_labels_every_code_in_each_language(desk: Desk) -> None:
    agent = desk.agent(locale="en")
    expected = {
        "it": ("Tecnico", "Bloccante", "Risposta", "Telefono"),
        "es": ("Técnico", "Bloqueante", "Respuesta", "Teléfono"),
        "en": ("Technical", "Blocking", "Reply", "Phone"),
    }
    for lang, (technical, blocking, replied, phone) in expected.items():
        body = agent.get("/meta", params={"lang": lang}).json()
        assert body["lang"] == lang
        assert labels(body, "statuses")["waiting_customer"] == WAITING[lang]
        assert labels(body, "types")["technical"] == technical
        assert labels(body, "severities")["blocking"] == blocking
        assert labels(body, "event_kinds")["replied"] == replied
        assert labels(body, "channels")["phone"] == phone
        assert set(labels(body, "event_kinds")) == {
            "created", "status_changed", "assigned", "replied", "attachment_added"
        }  # fmt: skip
    problem(agent.get("/meta", params={"lang": "fr"}), 422)


def test_the_language_is_lang_then_the_users_locale_then_accept_language(desk: Desk) -> None:
    spanish = desk.agent(locale="es")
    assert spanish.get("/meta").json()["lang"] == "es"
    # The user's own locale beats the browser's; an explicit ?lang beats both.
    assert spanish.get("/meta", headers={"Accept-Language": "it"}).json()["lang"] == "es"
    assert spanish.get("/meta", params={"lang": "en"}).json()["lang"] == "en"
    # An API key has no locale: the browser's language, by weight, else English.
    key = desk.api_key("tickets:read")
    header = {"Accept-Language": "fr-FR, it;q=0.5, es;q=0.8"}
    assert key.get("/meta", headers=header).json()["lang"] == "es"
    assert key.get("/meta").json()["lang"] == "en"


def test_category_names_follow_the_callers_language(desk: Desk) -> None:
    admin = desk.admin()
    r = admin.post(
        "/categories",
        json={
            "type": "technical",
            "name": "Fatturazione",
            "names": {"es": "Facturación", "en": "Invoicing"},
        },
    )
    assert r.status_code == 201, r.text
    area = r.json()
    assert area["names"] == {"it": None, "es": "Facturación", "en": "Invoicing"}
    r = admin.patch(f"/categories/{area['id']}", json={"names": {"it": "Fatture"}})
    assert r.status_code == 200, r.text
    assert r.json()["names"] == {"it": "Fatture", "es": "Facturación", "en": "Invoicing"}
    customer = desk.customer()
    client = desk.customer_user(customer, locale="es")
    desk.ticket(client, customer, category_id=area["id"])
    [item] = client.get("/tickets").json()["items"]
    assert item["category"]["name"] == "Facturación"
    assert client.get("/categories").json()[0]["name"] == "Facturación"
    italian = desk.customer_user(customer, locale="it")
    assert italian.get("/tickets").json()["items"][0]["category"]["name"] == "Fatture"
    english = italian.get("/tickets", params={"lang": "en"}).json()["items"][0]
    assert english["category"]["name"] == "Invoicing"
    problem(admin.patch(f"/categories/{area['id']}", json={"names": {"fr": "Facturation"}}), 422)
