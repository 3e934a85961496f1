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

COMMON_WORD_SHARE = 0.02
"""A word found in more than this share of the indexed tickets says little about which of
them answers a draft (its inverse document frequency is low), while matching it means ranking
thousands of a big customer's tickets: such words do not choose the candidates. They still
count in the rule (``matched``) and meaning still finds what they describe."""

SELECTIVE_FROM_DOCUMENTS = 50_000
"""Words are left out only from an index this large: on a small one every word is cheap, and
a word in 2 % of 100 tickets is two tickets."""

RAREST_KEPT = 3
"""A draft of common words only is matched by its rarest few."""


def selective_groups(
    groups: list[tuple[str, ...]], shares: dict[str, float], documents: int
) -> list[tuple[str, ...]]:
    """The draft's word groups that choose the full-text candidates among ``documents``
    indexed tickets, given the share of them each known word is in (the database's
    statistics; a word it does not list is rarer than every word it lists)."""
    if documents < SELECTIVE_FROM_DOCUMENTS or not shares:
        return groups

    def share(group: tuple[str, ...]) -> float:
        return min(1.0, sum(shares.get(form, 0.0) for form in group))

    rare = [group for group in groups if share(group) <= COMMON_WORD_SHARE]
    if rare:
        return rare
    rarest = set(sorted(groups, key=share)[:RAREST_KEPT])
    return [group for group in groups if group in rarest]
