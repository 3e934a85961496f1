"""Reports through HTTP, each figure checked by brute force over a generated history."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.db.base import utcnow
from app.domain import histograms as hd
from app.services import histograms, rollups
from tests.factories import Desk, problem

ROME = ZoneInfo("Europe/Rome")
FIRST = date(2026, 3, 2)  # spans the switch to summer time (2026-03-29)
LAST = date(2026, 4, 26)
N_TICKETS = 36
STATUSES = ("open", "in_progress", "waiting_customer", "waiting_third_party", "improvement",
            "resolved", "closed")  # fmt: skip
OPEN = STATUSES[:5]
CHANNELS = ("portal", "api", "email")


@dataclass
class Gen:
    id: int
    customer_id: int
    category_id: int
    severity: str
    created_at: datetime
    first_response_at: datetime | None
    first_response_business: float | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened_at: datetime | None
    sla: list[tuple[str, datetime, datetime, datetime | None, datetime | None]]
    """(target, started_at, due_at, met_at, breached_at)"""
    channel: str = "portal"
    moves: list[tuple[datetime, str, str]] = field(default_factory=list)
    """The status history: (at, from, to), a random walk that reopens some resolved tickets."""


def _instant(rng: random.Random) -> datetime:
    # A few instants fall just outside the range, and some at local midnight's edges.
    start = datetime(2026, 2, 27, tzinfo=UTC)
    return start + timedelta(minutes=rng.randrange(0, 62 * 24 * 60))


def generate(desk: Desk, seed: int = 15) -> tuple[list[Gen], httpx.Client]:
    rng = random.Random(seed)
    agent = desk.agent()
    customers = [desk.customer() for _ in range(3)]
    categories = [desk.category() for _ in range(3)]
    history: list[Gen] = []
    for _ in range(N_TICKETS):
        customer = rng.choice(customers)
        category = rng.choice(categories)
        severity = rng.choice(["normal", "blocking"])
        t = desk.ticket(agent, customer, category_id=category["id"], severity=severity)
        created = _instant(rng)
        responded = (
            created + timedelta(minutes=rng.randrange(1, 3000)) if rng.random() < 0.8 else None
        )
        business = rng.uniform(0, 600) if responded and rng.random() < 0.5 else None
        resolved = (
            created + timedelta(minutes=rng.randrange(30, 20000)) if rng.random() < 0.6 else None
        )
        closed = (
            resolved + timedelta(days=rng.randrange(0, 6))
            if resolved and rng.random() < 0.5
            else None
        )
        reopened = (
            resolved + timedelta(hours=rng.randrange(1, 48))
            if resolved and rng.random() < 0.2
            else None
        )
        slas = []
        for target in ("first_response", "resolution"):
            if rng.random() < 0.7:
                due = created + timedelta(minutes=rng.randrange(60, 5000))
                met = (
                    created + timedelta(minutes=rng.randrange(10, 6000))
                    if rng.random() < 0.6
                    else None
                )
                breached = due if (met is None or met > due) and rng.random() < 0.7 else None
                slas.append((target, created, due, met, breached))
        moves = []
        status, at = "open", created
        for _ in range(rng.randrange(0, 5)):
            # Some moves land on a quarter-hour, some on local midnight (minutes are whole).
            at += timedelta(minutes=rng.choice([15, 60, 24 * 60, rng.randrange(1, 6000)]))
            to = rng.choice([s for s in STATUSES if s != status])
            moves.append((at, status, to))
            status = to
        g = Gen(
            t["id"], customer["id"], category["id"], severity, created, responded, business,
            resolved, closed, reopened, slas, rng.choice(CHANNELS), moves,
        )  # fmt: skip
        history.append(g)
        _store(desk, g)
    return history, agent


def _store(desk: Desk, g: Gen) -> None:
    t = desk.db_time
    desk.db.execute("UPDATE ticket SET created_at = :c WHERE id = :id", c=t(g.created_at), id=g.id)
    desk.db.execute(
        "UPDATE ticket_fact SET created_at = :c, first_response_at = :fr,"
        " first_response_seconds = :frs, first_response_business_minutes = :frb,"
        " first_resolved_at = :r, resolution_seconds = :rs, closed_at = :cl,"
        " reopened_at = :ro, reopen_count = :rc WHERE ticket_id = :id",
        c=t(g.created_at),
        fr=g.first_response_at and t(g.first_response_at),
        frs=g.first_response_at and (g.first_response_at - g.created_at).total_seconds(),
        frb=g.first_response_business,
        r=g.resolved_at and t(g.resolved_at),
        rs=g.resolved_at and (g.resolved_at - g.created_at).total_seconds(),
        cl=g.closed_at and t(g.closed_at),
        ro=g.reopened_at and t(g.reopened_at),
        rc=1 if g.reopened_at else 0,
        id=g.id,
    )
    desk.db.execute("UPDATE ticket SET channel = :ch WHERE id = :id", ch=g.channel, id=g.id)
    desk.db.execute("DELETE FROM ticket_status_change WHERE ticket_id = :id", id=g.id)
    for at, from_status, to_status in g.moves:
        desk.db.execute(
            "INSERT INTO ticket_status_change (ticket_id, at, opened_at, from_status, to_status)"
            " VALUES (:id, :at, :o, :f, :to)",
            id=g.id,
            at=t(at),
            o=t(g.created_at),
            f=from_status,
            to=to_status,
        )
    for target, started, due, met, breached in g.sla:
        desk.db.execute(
            "INSERT INTO ticket_sla (ticket_id, target, cycle, target_minutes, started_at,"
            " used_minutes, due_at, met_at, breached_at) VALUES (:id, :target, 1, 60, :s, 0,"
            " :d, :m, :b)",
            id=g.id,
            target=target,
            s=t(started),
            d=t(due),
            m=met and t(met),
            b=breached and t(breached),
        )


# --- brute force -------------------------------------------------------------------------


def period(at: datetime, group: str) -> str:
    day = at.astimezone(ROME).date()
    if group == "week":
        day = day - timedelta(days=day.weekday())
    elif group == "month":
        day = day.replace(day=1)
    return day.isoformat()


START = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=ROME)
END = datetime(LAST.year, LAST.month, LAST.day, tzinfo=ROME) + timedelta(days=1)


def inside(at: datetime | None) -> bool:
    return at is not None and START <= at < END


def report(client: httpx.Client, name: str, group: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get(
        f"/reports/{name}",
        params={"from": FIRST.isoformat(), "to": LAST.isoformat(), "group": group,
                "tz": "Europe/Rome", **params},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def nonzero(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return [r for r in rows if any(r[k] for k in keys)]


@pytest.fixture
def history(desk: Desk) -> tuple[list[Gen], httpx.Client]:
    return generate(desk)


@pytest.mark.parametrize(("group", "rolled"), [("day", False), ("week", True), ("month", False),
                                               ("day", True)])  # fmt: skip
def test_volume_matches_brute_force(
    history: tuple[list[Gen], httpx.Client], desk: Desk, group: str, rolled: bool
) -> None:
    """From the facts, or (openings and first resolutions) from the rollup up to the middle of
    the range and the facts after it."""
    gens, agent = history
    if rolled:
        roll_up(desk, datetime(2026, 4, 2, 21, 45, tzinfo=UTC))
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for g in gens:
        for name, at in (("opened", g.created_at), ("resolved", g.resolved_at),
                         ("closed", g.closed_at), ("reopened", g.reopened_at)):  # fmt: skip
            if at is not None and inside(at):
                expected[period(at, group)][name] += 1
    keys = ("opened", "resolved", "closed", "reopened")
    rows = report(agent, "volume", group)
    got = {r["period"]: Counter({k: r[k] for k in keys if r[k]}) for r in nonzero(rows, keys)}
    assert got == dict(expected)
    assert sum(r["opened"] for r in rows) == sum(1 for g in gens if inside(g.created_at))
    # Every period of the range is there, empty ones too, in order.
    periods = [r["period"] for r in rows]
    assert periods == sorted(periods) and len(set(periods)) == len(periods)


def test_volume_filters(history: tuple[list[Gen], httpx.Client], desk: Desk) -> None:
    gens, agent = history
    g0 = gens[0]
    for params, keep in (
        ({"customer": g0.customer_id}, lambda g: g.customer_id == g0.customer_id),
        ({"category": g0.category_id}, lambda g: g.category_id == g0.category_id),
        ({"severity": "blocking"}, lambda g: g.severity == "blocking"),
        ({"channel": "email"}, lambda g: g.channel == "email"),
    ):
        rows = report(agent, "volume", "month", **params)
        assert sum(r["opened"] for r in rows) == sum(
            1 for g in gens if keep(g) and inside(g.created_at)
        ), params
    # Assignee and team: set on every third ticket straight in the database.
    agent_id = desk.db.scalar("SELECT min(id) FROM user_account WHERE role = 'agent'")
    r = desk.admin().post("/teams", json={"name": "Fatturazione"})
    assert r.status_code == 201, r.text
    team_id = r.json()["id"]
    chosen = [g.id for g in gens[::3]]
    for ticket_id in chosen:
        desk.db.execute(
            "UPDATE ticket SET assignee_id = :a, team_id = :t WHERE id = :id",
            a=agent_id,
            t=team_id,
            id=ticket_id,
        )
    want = sum(1 for g in gens if g.id in chosen and inside(g.created_at))
    for params in ({"agent": agent_id}, {"team": team_id}):
        rows = report(agent, "volume", "month", **params)
        assert sum(r["opened"] for r in rows) == want, params
    tagged = [g for g in gens if inside(g.created_at)][:3]
    for g in tagged:
        r = agent.post(f"/tickets/{g.id}/tags", json={"tags": ["Fatture"]})
        assert r.status_code == 200, r.text
    rows = report(agent, "volume", "month", tag="fatture")
    assert sum(r["opened"] for r in rows) == len(tagged)


def _pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return (
        statistics.quantiles(values, n=10, method="inclusive")[8]
        if q == 0.9
        else statistics.median(values)
    )


@pytest.mark.parametrize(("rolled", "group"), [(False, "week"), (True, "week"), (True, "day"),
                                               (True, "month")])  # fmt: skip
def test_response_times_match_brute_force(
    history: tuple[list[Gen], httpx.Client], desk: Desk, rolled: bool, group: str
) -> None:
    """Exact from the facts; on PostgreSQL, once the daily histograms are rolled (here up to
    the middle of the range: the rest and the local weeks' edges from the facts), within
    the histograms' bound (``domain/histograms.py``), with exact counts."""
    gens, agent = history
    bound = {"rel": 0.0, "abs": 1e-6}
    if rolled:

        async def run() -> int:
            async with desk.db.sessions.begin() as session:
                return await histograms.rebuild(session, now=datetime(2026, 4, 1, 12, tzinfo=UTC))

        written = desk.db.run(run())
        if desk.db.dialect == "postgresql":
            assert written > 0
            bound = {"rel": hd.REL_ERROR, "abs": hd.ABS_ERROR}
    rows = report(agent, "response-times", group)
    got = {(r["period"], r["metric"]): r for r in rows}
    checked = 0
    for metric in ("first_response", "resolution"):
        secs: dict[str, list[float]] = defaultdict(list)
        biz: dict[str, list[float]] = defaultdict(list)
        for g in gens:
            at = g.first_response_at if metric == "first_response" else g.resolved_at
            if at is None or not inside(at):
                continue
            secs[period(at, group)].append((at - g.created_at).total_seconds())
            if metric == "first_response" and g.first_response_business is not None:
                biz[period(at, group)].append(g.first_response_business)
        for (p, m), row in got.items():
            if m != metric:
                continue
            assert row["count"] == len(secs[p])
            assert row["business_count"] == len(biz[p])
            if secs[p]:
                assert row["median_seconds"] == pytest.approx(_pct(secs[p], 0.5), **bound)
                assert row["p90_seconds"] == pytest.approx(_pct(secs[p], 0.9), **bound)
                checked += 1
            else:
                assert row["median_seconds"] is None
            if biz[p]:
                assert row["median_business_minutes"] == pytest.approx(_pct(biz[p], 0.5), **bound)
                assert row["p90_business_minutes"] == pytest.approx(_pct(biz[p], 0.9), **bound)
    assert checked >= (2 if group == "month" else 4)


def test_sla_attainment_matches_brute_force(history: tuple[list[Gen], httpx.Client]) -> None:
    gens, agent = history
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for g in gens:
        for target, started, due, met, breached in g.sla:
            if not inside(started):
                continue
            late = breached is not None or (met is not None and met > due)
            state = "breached" if late else "met" if met is not None else "in_progress"
            expected[(period(started, "month"), target)][state] += 1
    rows = report(agent, "sla", "month")
    keys = ("met", "breached", "in_progress")
    got = {(r["period"], r["target"]): Counter({k: r[k] for k in keys if r[k]}) for r in rows}
    assert {k: v for k, v in got.items() if v} == dict(expected)


def roll_up(desk: Desk, until: datetime | None = None) -> int:
    """Build the reports' rollup as the worker does (from scratch), up to ``until``."""

    async def run() -> int:
        async with desk.db.sessions.begin() as session:
            return await rollups.rebuild(session, until)

    return desk.db.run(run())


def expected_backlog(gens: list[Gen], end: datetime) -> Counter[str]:
    """Tickets in an open status at ``end`` (moves at ``end`` not yet made), by status and age
    (older than N days: opened more than N days before ``end``)."""
    out: Counter[str] = Counter()
    for g in gens:
        if g.created_at >= end:
            continue
        status = "open"
        for at, _, to in g.moves:
            if at < end:
                status = to
        if status not in OPEN:
            continue
        out["open"] += 1
        out[f"status_{status}"] += 1
        age = end - g.created_at
        label = ("lt_1d" if age <= timedelta(days=1) else "1_3d" if age <= timedelta(days=3)
                 else "3_7d" if age <= timedelta(days=7) else "7_30d"
                 if age <= timedelta(days=30) else "gte_30d")  # fmt: skip
        out[label] += 1
    return out


BACKLOG_KEYS = ("open", "lt_1d", "1_3d", "3_7d", "7_30d", "gte_30d",
                *(f"status_{s}" for s in OPEN))  # fmt: skip


def check_backlog(rows: list[dict[str, Any]], gens: list[Gen], group: str) -> None:
    assert rows
    for row in rows:
        start = datetime.fromisoformat(row["period"]).replace(tzinfo=ROME)
        nxt = (start + timedelta(days=1 if group == "day" else 7)).replace(tzinfo=ROME)
        want = expected_backlog(gens, min(nxt, END))
        assert {k: row[k] for k in BACKLOG_KEYS} == {k: want[k] for k in BACKLOG_KEYS}, row


@pytest.mark.parametrize("rolled", ["none", "partly", "all"])
def test_backlog_matches_brute_force(
    history: tuple[list[Gen], httpx.Client], desk: Desk, rolled: str
) -> None:
    """By status and by age, from the status moves alone (no rollup), from the rollup up to
    the middle of the range then the moves, and from the rollup for the whole range."""
    gens, agent = history
    if rolled == "partly":
        assert roll_up(desk, datetime(2026, 3, 20, 10, 15, tzinfo=UTC)) > 0
    elif rolled == "all":
        assert roll_up(desk) > 0
    for group in ("week", "day"):
        check_backlog(report(agent, "backlog", group), gens, group)
    # Reopened tickets count back in: some ticket of the history was, at some period's end.
    assert any(f in ("resolved", "closed") and to in OPEN for g in gens for _, f, to in g.moves)


@pytest.mark.parametrize("rolled", [False, True])
def test_backlog_filters(history: tuple[list[Gen], httpx.Client], desk: Desk, rolled: bool) -> None:
    """A filtered backlog reads the matching tickets' moves (never the rollup)."""
    gens, agent = history
    if rolled:
        roll_up(desk)
    g0 = gens[0]
    for params, keep in (
        ({"channel": "email"}, lambda g: g.channel == "email"),
        ({"customer": g0.customer_id}, lambda g: g.customer_id == g0.customer_id),
        ({"severity": "blocking", "channel": "api"},
         lambda g: g.severity == "blocking" and g.channel == "api"),
    ):  # fmt: skip
        chosen = [g for g in gens if keep(g)]
        assert chosen, params
        check_backlog(report(agent, "backlog", "week", **params), chosen, "week")


def test_top_matches_brute_force(history: tuple[list[Gen], httpx.Client]) -> None:
    gens, agent = history
    rows = report(agent, "top", "month")
    for kind, key in (("category", "category_id"), ("customer", "customer_id")):
        counts = Counter(getattr(g, key) for g in gens if inside(g.created_at))
        got = [(r["id"], r["tickets"]) for r in rows if r["kind"] == kind]
        assert got == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def test_csv_and_who_may_read(desk: Desk) -> None:
    gens, agent = generate(desk, seed=3)
    r = agent.get(
        "/reports/volume",
        params={"from": FIRST.isoformat(), "to": LAST.isoformat(), "group": "month",
                "tz": "Europe/Rome"},
        headers={"Accept": "text/csv"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["period"] for x in lines] == ["2026-03-01", "2026-04-01"]
    assert sum(int(x["opened"]) for x in lines) == sum(1 for g in gens if inside(g.created_at))
    params = {"from": "2026-03-01", "to": "2026-03-31"}
    customer = desk.customer_user(desk.customer())
    problem(customer.get("/reports/volume", params=params), 403)
    problem(desk.api_key("tickets:read").get("/reports/volume", params=params), 403)
    assert desk.api_key("reports:read").get("/reports/volume", params=params).status_code == 200
    problem(agent.get("/reports/volume", params={**params, "tz": "Mars/Olympus"}), 422)
    problem(agent.get("/reports/volume", params={**params, "tz": "Europe"}), 422)  # a folder
    problem(agent.get("/reports/volume", params={"from": "2026-03-01", "to": "2026-02-01"}), 422)
    problem(agent.get("/reports/volume", params={"from": "2020-01-01", "to": "2026-02-01"}), 422)
    problem(agent.get("/reports/volume", params={**params, "group": "year"}), 422)


def test_dates_at_the_edges_of_the_calendar_are_a_422_not_a_500(desk: Desk) -> None:
    """The last day of year 9999 has no end instant (its next midnight overflows), nor has
    the first day of year 1 east of Greenwich: every report refuses such a range."""
    agent = desk.agent()
    for params in (
        {"from": "9999-01-01", "to": "9999-12-31"},
        {"from": "9999-12-30", "to": "9999-12-31", "tz": "Asia/Tokyo"},
        {"from": "0001-01-01", "to": "0001-01-02", "tz": "Asia/Tokyo"},
        {"from": "9999-12-01", "to": "9999-12-02", "group": "month"},
    ):
        for name in ("volume", "response-times", "sla", "backlog", "satisfaction", "top"):
            r = agent.get(f"/reports/{name}", params=params)
            assert problem(r, 422)["errors"][0]["loc"][0] == "query", (name, params)


def test_facts_follow_the_ticket(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    t = desk.ticket(agent, customer)
    fact = "SELECT {} FROM ticket_fact WHERE ticket_id = :id"
    assert desk.db.scalar(fact.format("count(*)"), id=t["id"]) == 1
    assert desk.db.scalar(fact.format("first_response_at"), id=t["id"]) is None
    desk.reply(agent, t, "Stiamo verificando.", visibility="internal")
    assert desk.db.scalar(fact.format("first_response_at"), id=t["id"]) is None
    desk.reply(agent, t, "Ci stiamo lavorando.")
    assert desk.db.scalar(fact.format("first_response_at"), id=t["id"]) is not None
    assert desk.db.scalar(fact.format("first_response_seconds"), id=t["id"]) >= 0
    desk.move(agent, t, "resolved")
    first = desk.db.scalar(fact.format("first_resolved_at"), id=t["id"])
    assert first is not None
    desk.move(agent, t, "in_progress")
    assert desk.db.scalar(fact.format("reopen_count"), id=t["id"]) == 1
    # Reopened: back in the backlog, in its new status (the moves of today, no rollup).
    today = datetime.now(UTC).date().isoformat()
    r = agent.get("/reports/backlog", params={"from": today, "to": today})
    assert r.status_code == 200, r.text
    [row] = r.json()["rows"]
    assert (row["open"], row["status_in_progress"], row["lt_1d"]) == (1, 1, 1), row
    desk.move(agent, t, "resolved")
    assert desk.db.scalar(fact.format("first_resolved_at"), id=t["id"]) == first
    desk.move(agent, t, "closed")
    assert desk.db.scalar(fact.format("closed_at"), id=t["id"]) is not None
    moves = desk.db.scalar(
        "SELECT count(*) FROM ticket_status_change WHERE ticket_id = :id", id=t["id"]
    )
    assert moves == 4
    last = "SELECT {} FROM ticket_status_change WHERE ticket_id = :id ORDER BY id DESC LIMIT 1"
    assert desk.db.scalar(last.format("from_status"), id=t["id"]) == "resolved"
    assert desk.db.scalar(last.format("to_status"), id=t["id"]) == "closed"


def test_satisfaction_matches_brute_force(
    history: tuple[list[Gen], httpx.Client], desk: Desk
) -> None:
    gens, agent = history
    rng = random.Random(7)
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for g in gens:
        if rng.random() < 0.3:
            continue
        answered = _instant(rng)
        rating = rng.choice(["good", "good", "bad"])
        comment = "Grazie" if rng.random() < 0.4 else None
        desk.db.execute(
            "INSERT INTO ticket_satisfaction (ticket_id, asked_at, expires_at, rating, comment,"
            " answered_at) VALUES (:id, :a, :a, :r, :c, :a)",
            id=g.id,
            a=desk.db_time(answered),
            r=rating,
            c=comment,
        )
        if inside(answered):
            p = period(answered, "week")
            expected[p]["answers"] += 1
            expected[p][rating] += 1
            expected[p]["comments"] += comment is not None
    rows = report(agent, "satisfaction", "week")
    for row in rows:
        want = expected.get(row["period"], Counter())
        assert (row["answers"], row["good"], row["bad"], row["comments"]) == (
            want["answers"], want["good"], want["bad"], want["comments"],
        ), row  # fmt: skip
        if want["answers"]:
            assert row["good_share"] == pytest.approx(want["good"] / want["answers"], abs=1e-4)
        else:
            assert row["good_share"] is None
    assert sum(r["answers"] for r in rows) == sum(c["answers"] for c in expected.values()) > 5


def test_the_worker_rolls_up_new_slots_and_rebuilds_after_old_ones_change(
    history: tuple[list[Gen], httpx.Client], desk: Desk
) -> None:
    """Runs of the worker's job at later and later instants roll only the new slots; an
    opening before what was rolled (an import, say) makes the next run rebuild it all."""
    gens, agent = history

    def job(now: datetime) -> int:
        async def run() -> int:
            async with desk.db.sessions.begin() as session:
                slots = await rollups.roll_up(session, now=now)
                return slots + await histograms.roll_up(session, now=now)

        return desk.db.run(run())

    assert job(datetime(2026, 3, 15, 12, 0, tzinfo=UTC)) > 0
    assert job(datetime(2026, 3, 15, 12, 10, tzinfo=UTC)) == 0  # no slot finished since
    assert job(datetime(2026, 4, 10, tzinfo=UTC)) > 0
    check_backlog(report(agent, "backlog", "week"), gens, "week")
    # A ticket opened (and moved) long before the rollup's end appears in the facts.
    customer = desk.customer()
    t = desk.ticket(agent, customer)
    late = Gen(
        t["id"], customer["id"], gens[0].category_id, "normal",
        datetime(2026, 3, 3, 9, 0, tzinfo=UTC), None, None, None, None, None, [],
        "api", [(datetime(2026, 3, 4, 9, 0, tzinfo=UTC), "open", "waiting_customer")],
    )  # fmt: skip
    _store(desk, late)
    desk.db.execute("UPDATE ticket SET category_id = :c WHERE id = :id", c=late.category_id,
                    id=late.id)  # fmt: skip
    assert job(datetime(2026, 4, 20, tzinfo=UTC)) > 0
    gens = [*gens, late]
    check_backlog(report(agent, "backlog", "week"), gens, "week")
    rows = report(agent, "volume", "week")
    assert sum(r["opened"] for r in rows) == sum(1 for g in gens if inside(g.created_at))
    rows = report(agent, "response-times", "week")
    assert sum(r["count"] for r in rows if r["metric"] == "resolution") == sum(
        1 for g in gens if inside(g.resolved_at)
    )


def test_every_report_filters_by_channel(history: tuple[list[Gen], httpx.Client]) -> None:
    gens, agent = history
    chosen = [g for g in gens if g.channel == "api"]
    assert 0 < len(chosen) < len(gens)
    rows = report(agent, "volume", "month", channel="api")
    assert sum(r["resolved"] for r in rows) == sum(1 for g in chosen if inside(g.resolved_at))
    rows = report(agent, "response-times", "month", channel="api")
    assert sum(r["count"] for r in rows if r["metric"] == "first_response") == sum(
        1 for g in chosen if inside(g.first_response_at)
    )
    rows = report(agent, "sla", "month", channel="api")
    assert sum(r["met"] + r["breached"] + r["in_progress"] for r in rows) == sum(
        1 for g in chosen for s in g.sla if inside(s[1])
    )
    rows = report(agent, "top", "month", channel="api")
    assert sum(r["tickets"] for r in rows if r["kind"] == "category") == sum(
        1 for g in chosen if inside(g.created_at)
    )
    rows = report(agent, "satisfaction", "month", channel="api")
    assert all(r["answers"] == 0 for r in rows)
    assert agent.get("/reports/volume", params={"from": "2026-03-01", "to": "2026-03-31",
                                                "channel": "fax"}).status_code == 422  # fmt: skip


def test_two_workers_rolling_up_for_the_first_time_at_once_both_succeed(desk: Desk) -> None:
    """The first run of a desk has no state row to lock: two workers starting together
    must not both insert it (the second used to fail on the primary key)."""
    customer = desk.customer()
    desk.ticket(desk.agent(), customer)
    desk.db.execute("DELETE FROM report_rollup")
    now = utcnow() + timedelta(hours=1)

    async def worker() -> int:
        async with desk.db.sessions.begin() as session:
            slots = await rollups.roll_up(session, now=now)
            return slots + await histograms.roll_up(session, now=now)

    async def both() -> list[int]:
        return list(await asyncio.gather(worker(), worker()))

    written = desk.db.run(both())
    # One of them rolled the slots; the other, serialised behind its lock, found them rolled.
    assert sorted(written)[0] == 0 < sorted(written)[1], written
    assert desk.db.scalar("SELECT count(*) FROM report_rollup WHERE id = 1") == 1
