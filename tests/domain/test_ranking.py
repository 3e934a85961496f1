"""How the lexical and the semantic rankings are fused, and what is shown (no database)."""

from __future__ import annotations

import random

import pytest

from app.domain.knowledge import SUGGESTIONS
from app.domain.ranking import (
    RRF_K,
    TYPE_BONUS,
    Calibration,
    Ranked,
    fuse,
    may_be_shown,
    shared_words_needed,
)

CAL = Calibration(sure=0.85, likely=0.82, margin=0.04)


@pytest.mark.parametrize(("words", "needed"), [(1, 1), (2, 1), (3, 2), (12, 2), (13, 3), (40, 3)])
def test_the_words_a_suggestion_shares_do_not_grow_with_a_long_draft(
    words: int, needed: int
) -> None:
    assert shared_words_needed(words) == needed


def test_without_the_model_candidates_sharing_too_few_words_are_left_out() -> None:
    strong = Ranked(id=1, lexical_rank=2, matched=3, similarity=None)
    weak = Ranked(id=2, lexical_rank=1, matched=1, similarity=None)
    assert [i for i, _ in fuse([weak, strong], 10, None, SUGGESTIONS)] == [1]
    assert fuse([weak], 10, None, SUGGESTIONS) == []


def test_a_sure_similarity_is_shown_without_shared_words() -> None:
    # Another language: no word in common, the meaning is close.
    other_language = Ranked(id=7, lexical_rank=None, matched=0, similarity=0.87)
    assert [i for i, _ in fuse([other_language], 6, CAL, SUGGESTIONS)] == [7]


def test_a_likely_similarity_needs_shared_words_too() -> None:
    backed = Ranked(id=1, lexical_rank=3, matched=2, similarity=0.83)
    alone = Ranked(id=2, lexical_rank=None, matched=0, similarity=0.835)
    assert [i for i, _ in fuse([backed, alone], 6, CAL, SUGGESTIONS)] == [1]


def test_far_from_the_best_similarity_nothing_is_shown() -> None:
    best = Ranked(id=1, lexical_rank=None, matched=0, similarity=0.92)
    # Plenty of shared words, but much further in meaning than the best.
    wordy = Ranked(id=2, lexical_rank=1, matched=5, similarity=0.86)
    assert [i for i, _ in fuse([best, wordy], 6, CAL, SUGGESTIONS)] == [1]


def test_a_draft_close_to_nothing_gets_nothing() -> None:
    vague = [
        Ranked(id=i, lexical_rank=i, matched=1, similarity=0.80 + i / 1000) for i in range(1, 9)
    ]
    assert fuse(vague, 6, CAL, SUGGESTIONS) == []


def test_ranks_are_fused_and_both_rankers_count() -> None:
    # 1 is first for the words and third for the meaning, 3 second and first: 3 wins;
    # 2, found by the meaning alone, comes after both.
    a = Ranked(id=1, lexical_rank=1, matched=3, similarity=0.870)
    b = Ranked(id=2, lexical_rank=None, matched=0, similarity=0.890)
    c = Ranked(id=3, lexical_rank=2, matched=3, similarity=0.900)
    fused = fuse([a, b, c], 6, CAL, SUGGESTIONS)
    assert [i for i, _ in fused] == [3, 1, 2]
    assert fused[0][1] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))


def test_best_first_then_oldest_and_at_most_five() -> None:
    candidates = [Ranked(id=i, lexical_rank=1, matched=5, similarity=None) for i in range(1, 9)]
    chosen = fuse(candidates, 5, None, SUGGESTIONS)
    assert [i for i, _ in chosen] == [1, 2, 3, 4, 5]


def test_a_ticket_of_the_drafts_type_ranks_higher_and_says_so_in_its_score() -> None:
    other = Ranked(id=1, lexical_rank=1, matched=2, similarity=None)
    same = Ranked(id=2, lexical_rank=2, matched=2, similarity=None, same_type=True)
    chosen = fuse([other, same], 4, None, SUGGESTIONS)
    assert [i for i, _ in chosen] == [2, 1]
    assert chosen[0][1] == pytest.approx(TYPE_BONUS / (RRF_K + 2))


@pytest.mark.parametrize("seed", range(200))
def test_leaving_out_what_may_not_be_shown_changes_nothing(seed: int) -> None:
    """The suggestions read only the items found by meaning that ``may_be_shown``: the fusion
    of what is left must be the fusion of everything."""
    rnd = random.Random(seed)
    calibration = CAL
    candidates = [
        Ranked(
            id=n,
            lexical_rank=rnd.choice([None, None, rnd.randint(1, 30)]),
            matched=rnd.randint(0, 4),
            similarity=rnd.choice([None, round(rnd.uniform(0.70, 0.92), 3)]),
            same_type=rnd.random() < 0.3,
        )
        for n in range(rnd.randint(1, 40))
    ]
    kept = [
        c
        for c in candidates
        if c.lexical_rank is not None
        or c.similarity is None
        or may_be_shown(c.similarity, calibration)
    ]
    words = rnd.randint(1, 15)
    assert fuse(kept, words, calibration, SUGGESTIONS) == fuse(
        candidates, words, calibration, SUGGESTIONS
    )
