"""Which of the database's matches are worth suggesting for a draft ticket (no database)."""

from __future__ import annotations

import pytest

from app.domain.knowledge import SUGGESTIONS, TYPE_BONUS, Candidate, choose, required_words


@pytest.mark.parametrize(
    ("words", "needed"), [(1, 1), (2, 1), (3, 2), (10, 2), (11, 3), (15, 3), (40, 8)]
)
def test_a_suggestion_must_share_a_fifth_of_the_drafts_words_and_two_at_least(
    words: int, needed: int
) -> None:
    assert required_words(words) == needed


def test_candidates_sharing_too_few_words_are_left_out() -> None:
    strong = Candidate(id=1, score=1.0, matched=3)
    weak = Candidate(id=2, score=9.0, matched=1)
    assert choose([weak, strong], words=10) == [strong]
    assert choose([weak], words=10) == []


def test_best_first_then_oldest_and_at_most_five() -> None:
    candidates = [Candidate(id=i, score=float(i % 3), matched=5) for i in range(1, 9)]
    chosen = choose(candidates, words=5)
    assert len(chosen) == SUGGESTIONS
    assert [(c.score, c.id) for c in chosen] == [(2.0, 2), (2.0, 5), (2.0, 8), (1.0, 1), (1.0, 4)]


def test_a_ticket_of_the_drafts_type_ranks_higher_and_says_so_in_its_score() -> None:
    other = Candidate(id=1, score=1.1, matched=2)
    same = Candidate(id=2, score=1.0, matched=2, same_type=True)
    chosen = choose([other, same], words=4)
    assert [c.id for c in chosen] == [2, 1]
    assert chosen[0].score == pytest.approx(1.0 * TYPE_BONUS)
