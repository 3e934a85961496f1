"""Percentiles read from the log-spaced histograms stay within their stated bound."""

from __future__ import annotations

import random

import pytest

from app.domain import histograms as hd
from app.domain.reports import percentile


@pytest.mark.parametrize("seed", range(20))
def test_a_percentile_from_the_histogram_is_within_the_bound(seed: int) -> None:
    rng = random.Random(seed)
    values = sorted(
        rng.choice([0.0, rng.uniform(0, 1), rng.uniform(1, 100), rng.expovariate(1 / 40000)])
        for _ in range(rng.randrange(1, 400))
    )
    hist: dict[int, int] = {}
    for v in values:
        hist[hd.bucket(v)] = hist.get(hd.bucket(v), 0) + 1
    for q in (0.5, 0.9):
        exact = percentile(values, q)
        assert exact is not None
        got = hd.percentile(hist, q)
        assert got is not None
        assert abs(got - exact) <= hd.REL_ERROR * exact + hd.ABS_ERROR, (q, got, exact)


def test_an_empty_histogram_has_no_percentile() -> None:
    assert hd.percentile({}, 0.5) is None
