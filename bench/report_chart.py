"""The README's chart: twelve weeks of the weekly volume and first-response report, as a PNG.

    pip install -e '.[bench]'
    python bench/report_chart.py            # writes docs/report-weekly.png

It builds a throw-away SQLite database with the migrations and the demo data
(``sportello demo-data``: its customers and categories), gives them twelve weeks
of tickets with a fixed random history (opened, answered, resolved), and draws what
the app's own report services answer for it: tickets opened and resolved per week,
and the median and p90 first response time.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from app.config import Settings
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.demo import load_demo_data
from app.domain import reports as rd
from app.domain.access import Actor, Role
from app.services import reports as report_service

LAST = date(2026, 11, 29)
WEEKS = 12
OUT = ROOT / "docs" / "report-weekly.png"


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def history(settings: Settings) -> None:
    rng = random.Random(2026)
    engine = make_engine(settings)
    async with make_sessionmaker(engine).begin() as session:
        customers = (await session.execute(text("SELECT id FROM customer"))).scalars().all()
        categories = (
            await session.execute(text("SELECT id, type FROM category WHERE parent_id IS NULL"))
        ).all()
        start = datetime(LAST.year, LAST.month, LAST.day, tzinfo=UTC) - timedelta(weeks=WEEKS)
        for n in range(1, 40 * WEEKS):
            # More tickets towards the end (a release went out in week 8).
            week = min(WEEKS - 1, int(WEEKS * rng.random() ** 0.8))
            created = start + timedelta(weeks=week, minutes=rng.randrange(7 * 24 * 60))
            category_id, kind = rng.choice(categories)
            answered = created + timedelta(minutes=rng.lognormvariate(5 if week < 8 else 6, 0.8))
            resolved = created + timedelta(hours=rng.lognormvariate(3.5, 1))
            params = {
                "n": f"DEMO-{n}",
                "c": rng.choice(customers),
                "k": kind,
                "cat": category_id,
                "at": _ts(created),
                "ans": _ts(answered),
                "res": _ts(resolved) if resolved < start + timedelta(weeks=WEEKS) else None,
                "ans_s": (answered - created).total_seconds(),
                "res_s": (resolved - created).total_seconds(),
            }
            ticket_id = (
                await session.execute(
                    text(
                        "INSERT INTO ticket (number, customer_id, type, category_id, subject, "
                        "description, severity, status, contact_channel, created_at, updated_at, "
                        "status_changed_at, version) VALUES (:n, :c, :k, :cat, 'Demo', 'Demo', "
                        "'normal', 'open', 'email', :at, :at, :at, 1) RETURNING id"
                    ),
                    params,
                )
            ).scalar_one()
            await session.execute(
                text(
                    "INSERT INTO ticket_fact (ticket_id, created_at, first_response_at, "
                    "first_response_seconds, first_resolved_at, resolution_seconds, reopen_count)"
                    " VALUES (:id, :at, :ans, :ans_s, :res, CASE WHEN :res IS NULL THEN NULL "
                    "ELSE :res_s END, 0)"
                ),
                {**params, "id": ticket_id},
            )
    await engine.dispose()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/demo.db"
        settings = Settings(database_url=url)
        await asyncio.to_thread(migrate.upgrade, url)
        await load_demo_data(settings)
        await history(settings)
        engine = make_engine(settings)
        window = rd.window(LAST - timedelta(weeks=WEEKS) + timedelta(days=1), LAST, rd.Group.WEEK,
                           "Europe/Rome")  # fmt: skip
        actor = Actor(role=Role.AGENT, user_id=None, customer_id=None, name="chart")
        async with make_sessionmaker(engine)() as session:
            volume = await report_service.volume(session, actor, window, report_service.Filters())
            times = await report_service.response_times(
                session, actor, window, report_service.Filters()
            )
        await engine.dispose()
    weeks = [r["period"][5:] for r in volume]
    first = [r for r in times if r["metric"] == "first_response"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    xs = range(len(weeks))
    top.bar([x - 0.2 for x in xs], [r["opened"] for r in volume], 0.4, label="opened")
    top.bar([x + 0.2 for x in xs], [r["resolved"] for r in volume], 0.4, label="resolved")
    top.set_ylabel("tickets")
    top.legend()
    top.set_title("GET /reports/volume and /reports/response-times?group=week (demo data)")
    hours = [(r["median_seconds"] or 0) / 3600 for r in first]
    p90 = [(r["p90_seconds"] or 0) / 3600 for r in first]
    bottom.plot(xs, hours, marker="o", label="median first response")
    bottom.plot(xs, p90, marker="o", linestyle="--", label="p90 first response")
    bottom.set_ylabel("hours")
    bottom.set_xticks(list(xs), weeks, rotation=45)
    bottom.set_xlabel("week starting (Europe/Rome)")
    bottom.legend()
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=100)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
