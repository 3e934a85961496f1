"""CPU per list request, measured in the server: what a shared machine cannot blur.

    python bench/wrk_bench.py prepare --database-url postgresql+asyncpg://…/bench --tickets 10000
    python bench/list_cpu.py --database-url postgresql+asyncpg://…/bench [--code DIR] [--requests 2000]

Serves the checkout (``--code``, default this one) with one uvicorn process
(``--workers 1`` runs no supervisor: the process measured is the one answering), worker jobs and rate limits
off, and sends each request ``--requests`` times, one after the other on one keep-alive
connection, after a warm-up. The figure is the server's utime + stime (``/proc``) over
those requests, divided by their number: CPU milliseconds per request, whatever else
the machine's cores are doing (wall-clock figures are not given: on a shared machine
they measure the neighbours). Repeated ``--repeat`` times; the median and the spread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.wrk_bench import AGENT_TOKEN, CUSTOMER_TOKEN, cpu_seconds, serve, wait_up

ROOT = Path(__file__).resolve().parents[1]

# (name, caller, path)
REQUESTS = [
    ("list_status", AGENT_TOKEN, "/api/v1/tickets?status=open"),
    ("list_own", CUSTOMER_TOKEN, "/api/v1/tickets"),
    ("list_all_staff", AGENT_TOKEN, "/api/v1/tickets"),
    ("list_filtered", AGENT_TOKEN, "/api/v1/tickets?severity=normal&type=technical"),
    ("counts_staff", AGENT_TOKEN, "/api/v1/tickets/counts"),
    ("counts_own", CUSTOMER_TOKEN, "/api/v1/tickets/counts"),
    ("read", AGENT_TOKEN, "/api/v1/tickets/1"),
]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", required=True)
    p.add_argument("--code", default=str(ROOT))
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated subset of the requests")
    args = p.parse_args()
    code = Path(args.code).resolve()
    proc, port = serve("app.main:app", code, args.database_url, workers=1)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz")
        with httpx.Client(base_url=base, timeout=30) as client:
            for name, token, path in REQUESTS:
                if args.only and name not in args.only.split(","):
                    continue
                headers = {"Authorization": f"Bearer {token}"}
                for _ in range(200):  # warm: imports, pool, statement caches
                    client.get(path, headers=headers).raise_for_status()
                figures = []
                for _ in range(args.repeat):
                    before = cpu_seconds(proc.pid)
                    for _ in range(args.requests):
                        client.get(path, headers=headers)
                    time.sleep(0.05)
                    figures.append((cpu_seconds(proc.pid) - before) * 1000 / args.requests)
                print(
                    f"{name:16} {statistics.median(figures):6.3f} ms CPU/request "
                    f"(runs: {', '.join(f'{f:.3f}' for f in figures)})",
                    flush=True,
                )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
