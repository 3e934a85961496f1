"""The knowledge base's rule of which suggestions are worth showing.

Suggestions answer a draft ticket before it is opened. The database ranks what
its full-text index matches (bm25 on SQLite, ts_rank on PostgreSQL); the rule
in ``domain/ranking.py`` fuses that with the embedding model's ranking and
decides what of it is shown, so that a draft about something the desk never
saw gets few or no suggestions instead of five random ones.
"""

from __future__ import annotations

from app.domain.tickets import LACK_OF_RESPONSE

SUGGESTIONS = 5
"""At most this many articles, and this many solved tickets, per suggestion."""

NOT_ANSWERS = frozenset(LACK_OF_RESPONSE.values())
"""Solutions that answer nothing: a ticket the system resolved for lack of response is not a
problem solved, and neither is one closed without a solution (withdrawn by its customer)."""

CANDIDATES = 30
"""How many of the database's best matches the rule looks at, per kind."""
