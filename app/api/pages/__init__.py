"""Small server-rendered pages for people who open a link in a browser (no script, strict CSP).

The only page is the public status link's: the API answers it as JSON to programs and
as this page to a browser (``Accept: text/html``). Everything is escaped by Jinja's
autoescape; the one inline style is allowed by its hash, nothing else may load.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

STYLE = (
    "body{margin:0;font-family:system-ui,Arial,sans-serif;font-size:16px;line-height:1.5;"
    "color:#1d1d1f;background:#f5f5f7}"
    "main{max-width:42rem;margin:0 auto;padding:1.5rem;background:#fff;min-height:100vh}"
    "h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
    ".number,.dates,.who{color:#555;font-size:.9rem;margin:.2rem 0}"
    ".status strong{background:#e8f0fe;padding:.1rem .5rem;border-radius:.3rem}"
    ".text{white-space:pre-wrap;overflow-wrap:anywhere}"
    "#solution .text{background:#eef8ee;border-left:4px solid #2e7d32;padding:.75rem}"
    ".reply{border-top:1px solid #ddd;padding:.5rem 0}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'none'; "
    "script-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

WORDS: dict[str, dict[str, str]] = {
    "it": {
        "ticket": "Ticket",
        "status": "Stato",
        "opened": "Aperto il",
        "updated": "aggiornato il",
        "solution": "Soluzione",
        "replies": "Risposte",
        "no_replies": "Nessuna risposta per ora.",
    },
    "es": {
        "ticket": "Ticket",
        "status": "Estado",
        "opened": "Abierto el",
        "updated": "actualizado el",
        "solution": "Solución",
        "replies": "Respuestas",
        "no_replies": "Todavía no hay respuestas.",
    },
    "en": {
        "ticket": "Ticket",
        "status": "Status",
        "opened": "Opened on",
        "updated": "updated on",
        "solution": "Solution",
        "replies": "Replies",
        "no_replies": "No replies yet.",
    },
}


def when(value: datetime) -> str:
    """A time as people read it (UTC, to the minute)."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def render_public_ticket(lang: str, values: dict[str, Any]) -> str:
    template = _ENV.get_template("public_ticket.html")
    return template.render(lang=lang, t=WORDS[lang], style=Markup(STYLE), **values)  # noqa: S704 (a constant)
