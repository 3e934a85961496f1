"""The state machine, exhaustively and by random walks: no database, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import IllegalTransition, InvalidInput
from app.domain.tickets import (
    MOVES,
    Mover,
    TicketState,
    TicketStatus,
    Visibility,
    after_reply,
    allowed_moves,
    transition,
)

S = TicketStatus
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# The contract's table, written out once more by hand, as the tests' independent reference.
EXPECTED: dict[tuple[S, S], set[Mover]] = {}
for frm in (S.OPEN,):
    EXPECTED[(frm, S.IN_PROGRESS)] = {Mover.AGENT}
    EXPECTED[(frm, S.WAITING_CUSTOMER)] = {Mover.AGENT}
for to in (S.WAITING_CUSTOMER, S.WAITING_THIRD_PARTY, S.IMPROVEMENT):
    EXPECTED[(S.IN_PROGRESS, to)] = {Mover.AGENT}
    EXPECTED[(to, S.IN_PROGRESS)] = {Mover.AGENT}
for frm in (S.OPEN, S.IN_PROGRESS, S.WAITING_CUSTOMER, S.WAITING_THIRD_PARTY, S.IMPROVEMENT):
    EXPECTED[(frm, S.RESOLVED)] = {Mover.AGENT}
    EXPECTED[(frm, S.CLOSED)] = {Mover.CUSTOMER, Mover.AGENT}
EXPECTED[(S.WAITING_CUSTOMER, S.RESOLVED)] = {Mover.AGENT, Mover.SYSTEM}
EXPECTED[(S.RESOLVED, S.OPEN)] = {Mover.CUSTOMER}
EXPECTED[(S.RESOLVED, S.IN_PROGRESS)] = {Mover.AGENT}
EXPECTED[(S.RESOLVED, S.CLOSED)] = {Mover.CUSTOMER, Mover.AGENT, Mover.SYSTEM}


@pytest.mark.parametrize("frm", list(S))
@pytest.mark.parametrize("to", list(S))
@pytest.mark.parametrize("mover", list(Mover))
def test_every_move_is_allowed_exactly_as_the_contract_says(frm: S, to: S, mover: Mover) -> None:
    legal = mover in EXPECTED.get((frm, to), set())
    state = TicketState(status=frm, solution="earlier" if frm is S.RESOLVED else None)
    if legal:
        new = transition(state, to, mover, NOW, solution="Fixed the printer driver")
        assert new.status is to
    else:
        with pytest.raises(IllegalTransition) as caught:
            transition(state, to, mover, NOW, solution="Fixed the printer driver")
        assert caught.value.allowed == [s.value for s in allowed_moves(frm, mover)]
        assert to.value not in caught.value.allowed


def test_the_table_has_no_move_the_contract_lacks() -> None:
    assert {k: set(v) for k, v in MOVES.items()} == EXPECTED


def test_nothing_leaves_closed() -> None:
    for mover in Mover:
        assert allowed_moves(S.CLOSED, mover) == []


@pytest.mark.parametrize("solution", [None, "", "   \n\t"])
def test_resolving_needs_a_solution(solution: str | None) -> None:
    with pytest.raises(InvalidInput):
        transition(TicketState(S.IN_PROGRESS), S.RESOLVED, Mover.AGENT, NOW, solution=solution)


def test_a_customer_public_reply_wakes_the_ticket() -> None:
    waiting = TicketState(S.WAITING_CUSTOMER)
    assert after_reply(waiting, Mover.CUSTOMER, Visibility.PUBLIC) == TicketState(S.IN_PROGRESS)
    resolved = TicketState(S.RESOLVED, solution="x", resolved_at=NOW)
    reopened = after_reply(resolved, Mover.CUSTOMER, Visibility.PUBLIC)
    assert reopened is not None
    # Reopened: the solution is no longer the current one (the timeline keeps it).
    assert (reopened.status, reopened.resolved_at, reopened.solution) == (S.OPEN, None, None)
    assert after_reply(waiting, Mover.AGENT, Visibility.PUBLIC) is None
    for status in (S.OPEN, S.IN_PROGRESS, S.WAITING_THIRD_PARTY, S.IMPROVEMENT, S.CLOSED):
        assert after_reply(TicketState(status), Mover.CUSTOMER, Visibility.PUBLIC) is None


step = st.tuples(
    st.sampled_from(list(S)),
    st.sampled_from(list(Mover)),
    st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=20)),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_random_walks_keep_the_invariants(walk: list[tuple[S, Mover, str | None, bool]]) -> None:
    state = TicketState(S.OPEN)
    now = NOW
    for to, mover, solution, as_reply in walk:
        now += timedelta(minutes=5)
        before = state
        if as_reply:
            woken = after_reply(state, mover, Visibility.PUBLIC)
            if woken is not None:
                assert mover is Mover.CUSTOMER
                state = woken
        else:
            try:
                state = transition(state, to, mover, now, solution)
            except (IllegalTransition, InvalidInput):
                assert state == before
                continue
            # A customer never makes an agent's move, and only the table's moves happen.
            assert mover in MOVES[(before.status, to)]
        if before.status is S.CLOSED:
            assert state == before, "nothing leaves closed"
        if state.status is S.RESOLVED:
            assert state.solution and state.solution.strip()
            assert state.resolved_at is not None
        if state.status not in (S.RESOLVED, S.CLOSED):
            assert state.resolved_at is None
            # Back at work, no solution is the current one.
            assert state.solution is None
        assert (state.closed_at is not None) == (state.status is S.CLOSED)
        if state.status is S.CLOSED and before.status is not S.CLOSED:
            assert state.closed_at == now
