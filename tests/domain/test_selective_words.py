"""Which of a draft's words choose the full-text candidates on a big index: the common ones
(low inverse document frequency) would make the database rank thousands of one customer's
tickets for nothing."""

from __future__ import annotations

from app.domain.knowledge import SELECTIVE_FROM_DOCUMENTS, selective_groups

GROUPS = [("fattura", "fattur"), ("scartata", "scart"), ("sdi",), ("codice", "codic")]
SHARES = {"fattura": 0.30, "fattur": 0.05, "scart": 0.004, "codic": 0.01, "codice": 0.005}
BIG = SELECTIVE_FROM_DOCUMENTS


def test_a_small_index_uses_every_word() -> None:
    assert selective_groups(GROUPS, SHARES, BIG - 1) == GROUPS


def test_without_statistics_every_word_is_used() -> None:
    assert selective_groups(GROUPS, {}, 10 * BIG) == GROUPS


def test_common_words_do_not_choose_on_a_big_index() -> None:
    # "fattura" is in 35 % of the tickets (its forms together); "codice" in 1.5 %; a word the
    # statistics do not list ("sdi") is rarer than any they list.
    assert selective_groups(GROUPS, SHARES, BIG) == [
        ("scartata", "scart"),
        ("sdi",),
        ("codice", "codic"),
    ]


def test_a_draft_of_common_words_only_keeps_its_rarest_three_in_order() -> None:
    groups = [("a",), ("b",), ("c",), ("d",), ("e",)]
    shares = {"a": 0.5, "b": 0.1, "c": 0.9, "d": 0.05, "e": 0.2}
    assert selective_groups(groups, shares, BIG) == [("b",), ("d",), ("e",)]
