"""``sportello demo-data`` writes a handful of knowledge-base articles in each locale."""

from __future__ import annotations

import asyncio
from collections import Counter

from app.config import Settings
from app.demo import DEMO_PASSWORD, load_demo_data
from tests.conftest import Database
from tests.factories import Desk


def test_demo_articles_in_each_locale_answer_the_demo_customers(
    desk: Desk, db: Database, settings: Settings
) -> None:
    assert asyncio.run(load_demo_data(settings))
    customer = desk.login("lucia.martinez@hosteleriamartinez.example", DEMO_PASSWORD)
    r = customer.get("/kb/articles", params={"limit": 100})
    assert r.status_code == 200, r.text
    published = r.json()["items"]
    assert all(a["published"] for a in published)
    per_locale = Counter(a["locale"] for a in published)
    assert set(per_locale) == {"it", "es", "en"} and min(per_locale.values()) >= 3
    assert all(a["category_id"] for a in published if a["locale"] == "it")
    # Staff see the draft too.
    agent = desk.login("anna.verdi@sportello.example", DEMO_PASSWORD)
    drafts = agent.get("/kb/articles", params={"published": "false"}).json()["items"]
    assert len(drafts) == 1
    r = customer.post(
        "/kb/suggest",
        json={"subject": "Certificado SSL caducado", "description": "La web dice no privada"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["articles"][0]["title"] == "Renovar el certificado SSL de tu dominio"
