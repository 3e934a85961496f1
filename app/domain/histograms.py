"""Duration histograms (pure): log-spaced buckets, so a percentile read from them is within
a known bound of the exact one.

Bucket ``k >= 0`` holds [RATIO**k, RATIO**(k+1)); bucket -1 holds [0, 1). A value is
estimated by its bucket's middle, so it is off by at most (RATIO - 1) / 2 of itself (2 %),
or by 0.5 below 1. A percentile interpolates between two ranks (as PostgreSQL's
``percentile_cont``), each estimated so: the result keeps the same bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RATIO = 1.04
REL_ERROR = (RATIO - 1) / 2
ABS_ERROR = 0.5


def bucket(value: float) -> int:
    return -1 if value < 1 else math.floor(math.log(value) / math.log(RATIO))


def middle(k: int) -> float:
    if k < 0:
        return 0.5
    return float((RATIO**k + RATIO ** (k + 1)) / 2)


def percentile(hist: Mapping[int, int], q: float) -> float | None:
    """``percentile_cont(q)`` estimated from ``{bucket: count}``."""
    n = sum(hist.values())
    if n == 0:
        return None
    pos = (n - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    seen = 0
    at_lo = at_hi = None
    for k in sorted(hist):
        seen += hist[k]
        if at_lo is None and seen > lo:
            at_lo = middle(k)
        if seen > hi:
            at_hi = middle(k)
            break
    assert at_lo is not None and at_hi is not None
    return at_lo + (at_hi - at_lo) * (pos - lo)
