"""Sportello against its ceiling, over HTTP, measured from outside with wrk.

    # once per size: a database of N tickets, built in SQL (COPY-speed generate_series)
    python bench/wrk_bench.py prepare --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sportello_perf_bench --tickets 1000000
    # then as often as you like (the tickets it creates stay; statuses it moves are reset)
    python bench/wrk_bench.py run --database-url ... --tickets 1000000 --label after

``run`` serves Sportello (``uvicorn app.main:app --workers 2``, worker jobs off) and the
ceiling app of ``bench/ceiling_app.py`` (one read by primary key, one insert; also 2
workers) on loopback, against the same PostgreSQL, and drives each operation with wrk
(2 threads, 16 connections, ``--seconds`` per run; Lua in ``bench/wrk/ops.lua`` makes the
bodies and the random ids). A round runs the two ceiling operations, then every Sportello
operation; rounds repeat (``--rounds``), so a change of the shared machine's load hits
both sides. Per operation: the median over the rounds of req/s and p99, the server's CPU
time per request (its processes' utime + stime from /proc), and the ratio of its median
req/s to the median of its ceiling (reads, lists and searches against the read; creations,
replies and status changes against the insert). Results go to
``bench/results/<date>-<host>-<label>-<tickets>.json``; ``bench/plot.py`` draws them.

``--code DIR`` serves another checkout (e.g. an export of an earlier commit, to measure
before/after on the same database: prepare with the earlier code, run it, then run this
one, whose migrations upgrade the schema first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "wrk" / "ops.lua"
RESULTS = ROOT / "bench" / "results"

AGENT_TOKEN = "bench-agent-token-0123456789abcdef"
CUSTOMER_TOKEN = "bench-customer-token-0123456789abcdef"

# (operation, caller, its ceiling, what the issue calls it)
OPS = [
    ("read", "agent", "ceiling_read", "GET /tickets/{id}"),
    ("list_status", "agent", "ceiling_read", "GET /tickets?status=open"),
    ("list_own", "customer", "ceiling_read", "GET /tickets (a customer's own)"),
    ("search", "agent", "ceiling_read", "GET /tickets?q= (two words)"),
    ("search_none", "agent", "ceiling_read", "GET /tickets?q= (no match)"),
    ("suggest", "customer", "ceiling_read", "POST /kb/suggest"),
    ("create", "customer", "ceiling_insert", "POST /tickets"),
    ("reply", "agent", "ceiling_insert", "POST /tickets/{id}/replies"),
    ("status", "agent", "ceiling_insert", "POST /tickets/{id}/status"),
]
CEILINGS = ["ceiling_read", "ceiling_insert"]

WORDS = [
    "fattura", "elettronica", "invio", "errore", "stampa", "registro", "magazzino",
    "inventario", "certificato", "dominio", "hosting", "pagamento", "bonifico", "disdetta",
    "factura", "servidor", "invoice", "printer", "backup", "password", "login", "export",
]  # fmt: skip


def seed_sql(n: int) -> list[str]:
    words = "(ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "])"
    k = len(WORDS)
    at = "now() - (g || ' seconds')::interval"
    return [
        "INSERT INTO customer (code, name, email, locale, created_at, updated_at) "
        "SELECT 'C' || g, 'Customer ' || g, 'c' || g || '@example.com', "
        "(ARRAY['it','es','en'])[1 + g % 3], now(), now() FROM generate_series(1, 1000) g",
        "INSERT INTO ticket (number, customer_id, type, subject, description, severity, status, "
        "contact_channel, contact_email, created_at, updated_at, status_changed_at, version) "
        "SELECT 'B-' || g, 1 + g % 1000, "
        "(ARRAY['administrative','commercial','technical','order'])[1 + g % 4], "
        f"{words}[1 + g % {k}] || ' ' || {words}[1 + (g / 7) % {k}] || ' ' || g, "
        f"'Descrizione ' || {words}[1 + (g / 3) % {k}] || ' ' || {words}[1 + (g / 11) % {k}], "
        "(ARRAY['normal','normal','normal','blocking'])[1 + g % 4], "
        "(ARRAY['open','in_progress','waiting_customer','waiting_third_party','improvement',"
        "'resolved','closed'])[1 + g % 7], 'email', 'c@example.com', "
        f"{at}, {at}, {at}, 1 FROM generate_series(1, {n}) g ORDER BY g",
        "INSERT INTO ticket_fts (ticket_id, customer_id, document) SELECT id, customer_id, "
        "setweight(to_tsvector('simple', lower(subject)), 'A') || "
        "setweight(to_tsvector('simple', lower(description)), 'B') FROM ticket",
        "CREATE TABLE ceiling_item (id serial PRIMARY KEY, customer_id integer NOT NULL, "
        "subject varchar(200) NOT NULL, description text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())",
        "INSERT INTO ceiling_item (customer_id, subject, description, created_at) "
        "SELECT customer_id, subject, description, created_at FROM ticket ORDER BY id",
    ]


def run_code(code: Path, source: str) -> None:
    """Run Python in another checkout (its own ``app`` package first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run([sys.executable, "-c", source], cwd=code, env=env, check=True)


def migrate(url: str, code: Path) -> None:
    run_code(code, f"from app.db import migrate; migrate.upgrade({url!r})")


async def prepare(url: str, n: int, code: Path) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    migrate(url, code)
    engine = create_async_engine(url)
    started = time.perf_counter()
    async with engine.begin() as conn:
        for sql in seed_sql(n):
            await conn.execute(text(sql))
        from argon2 import PasswordHasher

        pw = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("bench-password")
        await conn.execute(
            text(
                "INSERT INTO user_account (email, name, role, locale, password_hash, is_active, "
                "customer_id, created_at, updated_at) VALUES "
                "('agent@bench.example', 'Agent', 'agent', 'en', :pw, true, NULL, now(), now()), "
                "('cust@bench.example', 'Cust', 'customer', 'it', :pw, true, 7, now(), now())"
            ),
            {"pw": pw},
        )
        for email, token in (("agent", AGENT_TOKEN), ("cust", CUSTOMER_TOKEN)):
            await conn.execute(
                text(
                    "INSERT INTO auth_token (user_id, token_hash, created_at, expires_at) "
                    "SELECT id, :h, now(), now() + interval '30 days' FROM user_account "
                    "WHERE email = :e"
                ),
                {"h": hashlib.sha256(token.encode()).hexdigest(), "e": f"{email}@bench.example"},
            )
    await engine.dispose()
    # The knowledge base of the demo (articles in Italian, Spanish, English), for /kb/suggest.
    run_code(
        code,
        "import asyncio\n"
        "from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine\n"
        "from app.demo_articles import load_demo_articles\n"
        "async def go():\n"
        f"    e = create_async_engine({url!r})\n"
        "    async with async_sessionmaker(e)() as s:\n"
        "        await load_demo_articles(s)\n"
        "        await s.commit()\n"
        "    await e.dispose()\n"
        "asyncio.run(go())\n",
    )
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    print(f"seeded {n} tickets in {time.perf_counter() - started:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    module: str, cwd: Path, url: str, workers: int = 2
) -> tuple[subprocess.Popen[bytes], int]:
    """Serve ``module`` from ``cwd`` on a free loopback port (one process: ``workers=1``)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(cwd),
        "SPORTELLO_DATABASE_URL": url,
        "SPORTELLO_RUN_WORKER": "false",
        "SPORTELLO_AUTO_MIGRATE": "false",
        "SPORTELLO_LOG_LEVEL": "WARNING",
        # One bench user sends far more than a person: the rate limits would answer 429.
        "SPORTELLO_RATE_LIMIT_ENABLED": "false",
        "SPORTELLO_SEMANTIC_SEARCH": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        cwd=cwd,
        env=env,
    )  # fmt: skip
    return proc, port


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children (the uvicorn workers)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(port: int, op: str, token: str | None, n: int, seconds: int, seed: int,
        connections: int = 16, threads: int = 2) -> dict[str, float]:  # fmt: skip
    # A 10 s timeout: on a loaded machine wrk's default (2 s) counts slow answers as errors.
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
           "-H", "Content-Type: application/json", "-s", str(LUA)]  # fmt: skip
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    cmd += [f"http://127.0.0.1:{port}", "--", op, str(n), str(seed), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("{"))
    data = json.loads(line)
    rps = data["requests"] / (data["duration_us"] / 1e6)
    return {
        "rps": rps,
        "requests": data["requests"],
        "errors": data["non2xx"] + data["socket_errors"],
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
    }


async def reset_statuses(url: str) -> None:
    """Put back in progress the tickets a status round moved (ids 7k+1 are in_progress)."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE ticket SET status = 'in_progress' "
                "WHERE status = 'waiting_third_party' AND id % 7 = 1"
            )
        )
    await engine.dispose()


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg,
        "note": "2 cores shared by PostgreSQL, both apps, wrk and other jobs running at the time",
    }


async def run(args: argparse.Namespace) -> None:
    code = Path(args.code).resolve()
    migrate(args.database_url, code)
    commit = (
        subprocess.run(
            ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or code.name
    )
    ops = [o for o in OPS if not args.ops or o[0] in args.ops.split(",")]
    app_proc, app_port = serve("app.main:app", code, args.database_url)
    ceiling_proc, ceiling_port = serve("bench.ceiling_app:app", ROOT, args.database_url)
    tokens = {"agent": AGENT_TOKEN, "customer": CUSTOMER_TOKEN}
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        wait_up(f"http://127.0.0.1:{app_port}/healthz")
        wait_up(f"http://127.0.0.1:{ceiling_port}/items/1")
        # Warm both (imports, pools, caches) before measuring.
        wrk(app_port, "read", AGENT_TOKEN, args.tickets, 2, 0)
        wrk(ceiling_port, "ceiling_read", None, args.tickets, 2, 0)
        for r in range(args.rounds):
            for op in CEILINGS:
                runs.setdefault(op, []).append(
                    measure(ceiling_proc.pid, ceiling_port, op, None, args, r)
                )
            for op, who, _, _ in ops:
                if op == "status":
                    await reset_statuses(args.database_url)
                runs.setdefault(op, []).append(
                    measure(app_proc.pid, app_port, op, tokens[who], args, r)
                )
            print(f"round {r + 1}/{args.rounds} done", flush=True)
        # A search that matches nothing, alone (one connection): its own latency.
        idle = wrk(app_port, "search_none", AGENT_TOKEN, args.tickets, 3, 99, 1, 1)
    finally:
        for proc in (app_proc, ceiling_proc):
            proc.terminate()
            proc.wait(timeout=30)
    summary: dict[str, dict[str, object]] = {}
    for name in CEILINGS + [o[0] for o in ops]:
        rs = runs[name]
        summary[name] = {
            "rps": statistics.median(x["rps"] for x in rs),
            "p50_ms": statistics.median(x["p50_ms"] for x in rs),
            "p99_ms": statistics.median(x["p99_ms"] for x in rs),
            "cpu_ms_per_request": statistics.median(x["cpu_ms"] for x in rs),
            "errors": sum(int(x["errors"]) for x in rs),
            "rounds": rs,
        }
    for op, _, ceiling, title in ops:
        s = summary[op]
        c = summary[ceiling]
        s["title"] = title
        s["ceiling"] = ceiling
        s["ratio"] = float(s["rps"]) / float(c["rps"])  # type: ignore[arg-type]
        s["cpu_vs_ceiling"] = float(s["cpu_ms_per_request"]) / float(c["cpu_ms_per_request"])  # type: ignore[arg-type]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "label": args.label,
        "code": commit,
        "tickets": args.tickets,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "wrk": "2 threads, 16 connections",
        "workers": 2,
        "search_none_alone": idle,
        "operations": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{result['date'][:10]}-{socket.gethostname()}-{args.label}-{args.tickets}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"written bench/results/{name}")


def measure(pid: int, port: int, op: str, token: str | None, args: argparse.Namespace,
            r: int) -> dict[str, float]:  # fmt: skip
    before = cpu_seconds(pid)
    out = wrk(port, op, token, args.tickets, args.seconds, r + 1)
    out["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / max(1, out["requests"])
    return out


def table(result: dict[str, object]) -> str:
    ops: dict[str, dict[str, object]] = result["operations"]  # type: ignore[assignment]
    lines = [
        f"{result['label']} ({result['code']}), {result['tickets']:,} tickets, {result['date']}",
        "| operation | req/s | p50 ms | p99 ms | CPU ms/req | ratio to ceiling | CPU vs ceiling | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in ops.items():
        ratio = f"{s['ratio']:.2f}" if "ratio" in s else "—"
        cpu_vs = f"{s['cpu_vs_ceiling']:.1f}x" if "cpu_vs_ceiling" in s else "—"
        lines.append(
            f"| {s.get('title', name)} | {s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} "
            f"| {s['cpu_ms_per_request']:.2f} | {ratio} | {cpu_vs} | {s['errors']} |"
        )
    idle = result["search_none_alone"]
    lines.append(
        f"\nA search matching nothing, alone: p50 {idle['p50_ms']:.1f} ms, "  # type: ignore[index]
        f"p99 {idle['p99_ms']:.1f} ms."  # type: ignore[index]
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("prepare", "run"):
        p = sub.add_parser(name)
        p.add_argument("--database-url", required=True)
        p.add_argument("--tickets", type=int, required=True)
        p.add_argument("--code", default=str(ROOT), help="the checkout to serve (default: this)")
    p.add_argument("--label", default="now")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--ops", default="", help="comma-separated subset of the operations")
    args = parser.parse_args()
    if args.command == "prepare":
        asyncio.run(prepare(args.database_url, args.tickets, Path(args.code).resolve()))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
