"""Scale-out on one machine: 2 API processes + 2 workers against 1 + 1, same load, same run.

    python bench/wrk_bench.py prepare --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sportello_scale_bench --tickets 100000
    python bench/scale_out.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sportello_scale_bench --tickets 100000

Each topology serves Sportello (``uvicorn app.main:app --workers N``, jobs off in the API)
beside N ``sportello worker`` processes (mail in log mode, so delivery is the worker's own
work), and drives reads and creations with wrk (2 threads, 16 connections). Rounds
alternate the topologies, so a change of the shared machine's load hits both. Per
topology: median req/s, p99, req/s per API process, and the mail the workers delivered
per second while creations ran. Results go to ``bench/results/<date>-<host>-scale-out.json``.

On a 2-core machine that also runs PostgreSQL and wrk, two API processes cannot double the
throughput of one: the figure that matters is how much of the second core they turn into
requests, i.e. whether throughput per process holds or collapses (lock contention, a
shared counter, pool exhaustion would make it collapse). So each run also records the API
processes' CPU time per request and the workers' CPU time per mail sent (utime + stime from
/proc): if they stay the same with two of each, a process does the same work per request
whatever the number of its peers, and its throughput is bounded by the CPU it is given,
not by the others.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wrk_bench import (
    AGENT_TOKEN,
    CUSTOMER_TOKEN,
    RESULTS,
    ROOT,
    cpu_seconds,
    free_port,
    machine,
    migrate,
    wait_up,
    wrk,
)

OPS = [("read", AGENT_TOKEN), ("create", CUSTOMER_TOKEN)]


def start(url: str, processes: int) -> list[subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SPORTELLO_DATABASE_URL": url,
        "SPORTELLO_RUN_WORKER": "false",
        "SPORTELLO_AUTO_MIGRATE": "false",
        "SPORTELLO_LOG_LEVEL": "WARNING",
        # One bench user sends far more than a person: the rate limits would answer 429.
        "SPORTELLO_RATE_LIMIT_ENABLED": "false",
        "SPORTELLO_SEMANTIC_SEARCH": "false",
        "SPORTELLO_WORKER_INTERVAL_SECONDS": "0.5",
    }
    api = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
         str(port), "--workers", str(processes), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    api.port = port  # type: ignore[attr-defined]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    wait_up(f"http://127.0.0.1:{port}/healthz")
    return [api, *workers]


async def sent_mail(url: str) -> int:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        n = (
            await conn.execute(text("SELECT count(*) FROM notification WHERE status = 'sent'"))
        ).scalar()
    await engine.dispose()
    return int(n or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tickets", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    migrate(args.database_url, ROOT)
    runs: dict[int, dict[str, list[dict[str, float]]]] = {1: {}, 2: {}}
    for r in range(args.rounds):
        for n in (1, 2):
            procs = start(args.database_url, n)
            try:
                port = procs[0].port  # type: ignore[attr-defined]
                # Warm every process up (statement caches, mail templates, the pools) on both
                # operations, and let the workers drain the warm-up's mail: a process's first
                # requests cost far more than the rest, and with two of each that cost is paid
                # twice over fewer requests.
                wrk(port, "read", AGENT_TOKEN, args.tickets, 3, 0)
                wrk(port, "create", CUSTOMER_TOKEN, args.tickets, 3, 0)
                time.sleep(3)
                for op, token in OPS:
                    before = asyncio.run(sent_mail(args.database_url))
                    api_cpu = cpu_seconds(procs[0].pid)
                    worker_cpu = sum(cpu_seconds(p.pid) for p in procs[1:])
                    out = wrk(port, op, token, args.tickets, args.seconds, r + 1)
                    requests = max(1.0, out["rps"] * args.seconds)
                    out["api_cpu_ms_per_request"] = (
                        (cpu_seconds(procs[0].pid) - api_cpu) * 1000 / requests
                    )
                    if op == "create":
                        time.sleep(1)
                        mails = asyncio.run(sent_mail(args.database_url)) - before
                        out["mail_per_s"] = mails / (args.seconds + 1)
                        out["worker_cpu_ms_per_mail"] = (
                            (sum(cpu_seconds(p.pid) for p in procs[1:]) - worker_cpu)
                            * 1000
                            / max(1, mails)
                        )
                    runs[n].setdefault(op, []).append(out)
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(timeout=30)
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for n, ops in runs.items():
        for op, rs in ops.items():
            s = {
                "rps": statistics.median(x["rps"] for x in rs),
                "p99_ms": statistics.median(x["p99_ms"] for x in rs),
                "errors": sum(x["errors"] for x in rs),
                "api_cpu_ms_per_request": statistics.median(
                    x["api_cpu_ms_per_request"] for x in rs
                ),
            }
            s["rps_per_api_process"] = s["rps"] / n
            if op == "create":
                s["mail_per_s"] = statistics.median(x["mail_per_s"] for x in rs)
                s["worker_cpu_ms_per_mail"] = statistics.median(
                    x["worker_cpu_ms_per_mail"] for x in rs
                )
            summary.setdefault(f"{n}+{n}", {})[op] = s
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tickets": args.tickets,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "wrk": "2 threads, 16 connections",
        "topologies": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{result['date'][:10]}-{socket.gethostname()}-scale-out-{args.tickets}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1) + "\n")
    print(
        "| API + workers | operation | req/s | req/s per API process | p99 ms "
        "| API CPU ms per request | mail/s | worker CPU ms per mail | errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for topo, ops in summary.items():
        for op, s in ops.items():
            mail = f"{s['mail_per_s']:.0f}" if "mail_per_s" in s else "—"
            per_mail = (
                f"{s['worker_cpu_ms_per_mail']:.2f}" if "worker_cpu_ms_per_mail" in s else "—"
            )
            print(
                f"| {topo} | {op} | {s['rps']:.0f} | {s['rps_per_api_process']:.0f} "
                f"| {s['p99_ms']:.0f} | {s['api_cpu_ms_per_request']:.2f} | {mail} "
                f"| {per_mail} | {s['errors']:.0f} |"
            )
    print(f"written bench/results/{name}")


if __name__ == "__main__":
    main()
