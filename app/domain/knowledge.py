"""The knowledge base's rule of which suggestions are worth showing.

Suggestions answer a draft ticket before it is opened. The database ranks what
its full-text index matches (bm25 on SQLite, ts_rank on PostgreSQL); the rule
here decides what of that is shown: a candidate must contain enough of the
draft's words, so that a draft about something the desk never saw gets few or
no suggestions instead of five random ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from app.domain.tickets import LACK_OF_RESPONSE

SUGGESTIONS = 5
"""At most this many articles, and this many solved tickets, per suggestion."""

NOT_ANSWERS = frozenset(LACK_OF_RESPONSE.values())
"""Solutions that answer nothing: a ticket the system resolved for lack of response is not a
problem solved, and neither is one closed without a solution (withdrawn by its customer)."""

CANDIDATES = 30
"""How many of the database's best matches the rule looks at, per kind."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A row the full-text index matched, with what the rule needs to judge it."""

    id: int
    score: float
    """The database's relevance, higher is better (comparable only within one query)."""
    matched: int
    """How many of the draft's words it contains, in any of their forms."""
    same_type: bool = False
    """Of the ticket type the draft was given (tickets only)."""


def required_words(words: int) -> int:
    """How many of a draft's ``words`` a suggestion must contain.

    One word for a draft of one or two words; otherwise a fifth of them, and at
    least two: one shared word ("fattura", "dominio") is a coincidence, two are a topic.
    """
    if words <= 2:
        return 1
    return max(2, math.ceil(words * 0.2))


TYPE_BONUS = 1.2
"""A solved ticket of the type the draft was given ranks this much higher."""


def choose(candidates: list[Candidate], words: int, limit: int = SUGGESTIONS) -> list[Candidate]:
    """The candidates worth suggesting with their final score, best first (ties: older first)."""
    need = required_words(words)
    kept = [
        replace(c, score=c.score * (TYPE_BONUS if c.same_type else 1.0))
        for c in candidates
        if c.matched >= need
    ]
    return sorted(kept, key=lambda c: (-c.score, c.id))[:limit]
