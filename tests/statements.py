"""Counting what the app sends to its database, to pin the number of round trips per endpoint.

Listeners on the app's own engine (the server runs in-process, in a thread): every statement
(savepoints included), every transaction begun, every connection taken from the pool, and
every pre-ping. A later change that adds a query to an endpoint makes its test fail.

    with statements.request() as log:
        client.get(...)
    assert log.count == 2
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Recorded:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    checkouts: int = 0

    @property
    def count(self) -> int:
        return len(self.statements)

    def kinds(self) -> list[str]:
        """Each statement's first words (``SELECT``, ``INSERT INTO ticket``...), for messages."""
        out = []
        for sql in self.statements:
            head = sql.split()
            outer = _outside_parentheses(sql).split()
            if head[:1] == ["SELECT"] and "FROM" in outer:
                # The statement's own FROM, not one of a subquery among its columns.
                out.append("SELECT " + outer[outer.index("FROM") + 1])
            else:
                out.append(" ".join(head[:3]))
        return out


def _outside_parentheses(sql: str) -> str:
    """``sql`` with what is inside parentheses blanked (a subquery becomes ``( )``)."""
    depth = 0
    kept = []
    for char in sql:
        if char == "(":
            depth += 1
            kept.append("( ")
        elif char == ")":
            depth -= 1
            kept.append(" )")
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


class StatementLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self._lock = threading.Lock()
        self._current: Recorded | None = None
        self._hooks: list[tuple[Any, str, Any]] = [
            (self.engine, "before_cursor_execute", self._on_statement),
            (self.engine, "begin", self._on_begin),
            (self.engine.pool, "checkout", self._on_checkout),
        ]
        for target, name, fn in self._hooks:
            event.listen(target, name, fn)

    def close(self) -> None:
        for target, name, fn in self._hooks:
            event.remove(target, name, fn)

    @property
    def pre_ping(self) -> bool:
        """Whether the pool pings each connection it hands out (a round trip per checkout)."""
        return bool(getattr(self.engine.pool, "_pre_ping", False))

    @contextmanager
    def request(self) -> Iterator[Recorded]:
        recorded = Recorded()
        with self._lock:
            self._current = recorded
        try:
            yield recorded
        finally:
            with self._lock:
                self._current = None

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            return  # SQLite's BEGIN IMMEDIATE (db/session.py): counted as the transaction
        with self._lock:
            if self._current is not None:
                self._current.statements.append(statement)

    def _on_begin(self, _conn: Any) -> None:
        with self._lock:
            if self._current is not None:
                self._current.transactions += 1

    def _on_checkout(self, *_: Any) -> None:
        with self._lock:
            if self._current is not None:
                self._current.checkouts += 1
