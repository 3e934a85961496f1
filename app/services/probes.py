"""What a write may skip: cheap EXISTS answers carried by a statement the write sends anyway.

Most desks have no webhook, no routing rule, no active SLA policy, and most tickets no CC
address, yet every ticket event used to read each of them (one round trip each). A write
now asks, as extra columns of a statement it sends anyway (a creation's customer lookup,
a change's locked load of the ticket), whether there is any: ``EXISTS`` on small tables or
on an index. The subscribers ask :func:`none` before their own read, and skip it only when
the answer in hand says "none"; without an answer they read as before.

Not a cache: the answers are read inside the request's transaction, a few statements
before the read they replace, so a hook or a rule made by any process and committed
before is seen, as it was. They are dropped when the outermost transaction ends, and as
soon as this session adds a row of the kind asked about (an inbound mail that adds CC
addresses and then replies, a test that makes a hook and writes in one session).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import ColumnElement, exists
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Session, SessionTransaction

from app.db.models import RoutingRule, SlaPolicy, TicketCc, Webhook

Kind = Literal["hooks", "routing", "sla"]

_KEY = "sportello.probes"
"""``session.info`` key: {kind: whether any exists}, and {("cc", ticket id): whether any}."""

_LABEL = "probe_"


def _exists(kind: Kind) -> ColumnElement[bool]:
    if kind == "hooks":
        return exists().where(Webhook.enabled.is_(True))
    if kind == "routing":
        return exists().where(RoutingRule.active.is_(True))
    return exists().where(SlaPolicy.active.is_(True))


def columns(*kinds: Kind) -> list[ColumnElement[bool]]:
    """Labelled ``EXISTS`` columns to add to a statement; give its row to :func:`keep`."""
    return [_exists(k).label(_LABEL + k) for k in kinds]


def cc_column(ticket_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """Whether the ticket has CC addresses (on the index of ``ticket_cc``'s unique pair)."""
    return exists().where(TicketCc.ticket_id == ticket_id).label(_LABEL + "cc")


def keep(session: AsyncSession, row: Any, *, ticket_id: int | None = None) -> None:
    """Keep the answers found in ``row`` (a result row with :func:`columns`' labels)."""
    answers: dict[Any, bool] = session.info.setdefault(_KEY, {})
    for key, value in row._mapping.items():
        if not isinstance(key, str) or not key.startswith(_LABEL):
            continue
        kind = key[len(_LABEL) :]
        if kind == "cc":
            if ticket_id is not None:
                answers[("cc", ticket_id)] = bool(value)
        else:
            answers[kind] = bool(value)


def none(session: AsyncSession, kind: Kind) -> bool:
    """True only if this transaction was told there is none of ``kind``."""
    return session.info.get(_KEY, {}).get(kind) is False


def no_cc(session: AsyncSession, ticket_id: int) -> bool:
    """True only if this transaction was told the ticket has no CC address."""
    return session.info.get(_KEY, {}).get(("cc", ticket_id)) is False


@sa_event.listens_for(Session, "transient_to_pending")
def _forget_on_add(session: Session, instance: object) -> None:
    """A row of a kind asked about, added in this session: its answer no longer holds."""
    answers: dict[Any, bool] | None = session.info.get(_KEY)
    if not answers:
        return
    if isinstance(instance, TicketCc):
        answers.pop(("cc", instance.ticket_id), None)
    elif isinstance(instance, Webhook):
        answers.pop("hooks", None)
    elif isinstance(instance, RoutingRule):
        answers.pop("routing", None)
    elif isinstance(instance, SlaPolicy):
        answers.pop("sla", None)


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)
