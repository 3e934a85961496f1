"""A generated export of another help desk, as the bulk import takes it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

WORDS = [
    "fattura",
    "stampa",
    "magazzino",
    "certificato",
    "firma",
    "ordine",
    "spedizione",
    "licenza",
    "backup",
    "server",
    "aggiornamento",
    "utente",
    "password",
    "report",
    "cliente",
    "fornitore",
    "pagamento",
    "scadenza",
]
STATUSES = ("open", "in_progress", "waiting_customer", "resolved", "closed")


def export(
    count: int, customer_codes: list[str], *, seed: int = 14, prefix: str = "ZD-"
) -> list[dict[str, Any]]:
    """``count`` tickets spread over two years, each with 0-3 replies (some internal)."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    tickets = []
    for n in range(count):
        created = start + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        status = STATUSES[n % len(STATUSES)]
        replies = []
        at = created
        for r in range(rng.randrange(0, 4)):
            at += timedelta(minutes=rng.randrange(5, 3000))
            replies.append(
                {
                    "body": " ".join(rng.choices(WORDS, k=12)),
                    "visibility": "internal" if r == 2 else "public",
                    "author_name": "Agente Storico" if r % 2 == 0 else "Cliente Storico",
                    "author_role": "agent" if r % 2 == 0 else "customer",
                    "created_at": _iso(at),
                }
            )
        ticket: dict[str, Any] = {
            "external_id": f"{prefix}{n}",
            "customer_code": customer_codes[n % len(customer_codes)],
            "type": "technical",
            "subject": " ".join([*rng.choices(WORDS, k=4), f"pratica{n}x"]).capitalize(),
            "description": " ".join(rng.choices(WORDS, k=40)),
            "severity": "blocking" if n % 7 == 0 else "normal",
            "status": status,
            "created_at": _iso(created),
            "updated_at": _iso(at + timedelta(minutes=1)),
            "contact": {"name": "Contatto Storico", "email": f"storico{n % 50}@example.com"},
            "replies": replies,
        }
        if status in ("resolved", "closed"):
            ticket["solution"] = "Risolto: " + " ".join(rng.choices(WORDS, k=8))
        tickets.append(ticket)
    return tickets


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
