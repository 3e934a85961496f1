"""Sportello side by side with django-helpdesk 2.6.1, in one run, with the same wrk load.

    python bench/peer.py setup --scratch ~/scratch/peer \\
        --peer-database bench_perfwrites_peer \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_perfwrites
    python bench/peer.py run --scratch ~/scratch/peer \\
        --peer-database bench_perfwrites_peer \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_perfwrites

``setup`` builds, under ``--scratch`` (not in the repository), a venv with
``django-helpdesk==2.6.1``, gunicorn and psycopg2 from PyPI, and a minimal Django project
for it on PostgreSQL (the peer's own database, dropped and made again): the settings
its documentation asks for, its REST API on (``HELPDESK_API_ENABLED``, DRF token
authentication, the scripted path of an integrator), persistent database connections
(``CONN_MAX_AGE``, as Sportello's pool), mail to Django's dummy backend (the peer sends
its mails inside the request; Sportello only queues outbox rows, so the peer is spared
SMTP, not the rendering), one queue, a staff user with a token and ``--tickets`` tickets
(``bulk_create``, half open, half reopened). Sportello's database is prepared by
``bench/wrk_bench.py prepare`` with as many tickets.

``run`` serves both on loopback with 2 workers each (gunicorn's default sync workers for
the peer, uvicorn for Sportello) and drives two operations with wrk (2 threads, 16
connections, ``--seconds`` each): a ticket creation (the peer: ``POST /api/tickets/``;
Sportello: ``POST /api/v1/tickets`` as a customer) and a public reply to a random ticket
(``POST /api/followups/``; ``POST /api/v1/tickets/{id}/replies`` as an agent). Rounds are
interleaved (each operation on both, the order alternating from round to round), and each
figure is the median over the rounds: req/s, p50, p99, the server's CPU time per request
(from /proc; what a server still does after wrk stops is drained before the next run and
not counted). A ticket read by id is timed one request at a time in each round (Sportello:
the median of 20; the peer: one), not under wrk: the peer's ``GET /api/tickets/{id}/``
walks every ticket (one query each), so 16 connections would queue hours of work.
Results go to ``bench/results/<date>-<host>-peer-<tickets>.json`` with the machine and the
load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.wrk_bench import (
    AGENT_TOKEN,
    CUSTOMER_TOKEN,
    LUA,
    RESULTS,
    ROOT,
    cpu_seconds,
    free_port,
    machine,
    prepare,
    serve,
    wait_up,
)

PEER_LUA = ROOT / "bench" / "wrk" / "peer.lua"
PEER_VERSION = "django-helpdesk==2.6.1"
PEER_TOKEN = "0123456789abcdef0123456789abcdef01234567"  # DRF tokens are 40 characters

# (operation, Sportello's op in ops.lua and caller, the peer's op in peer.lua), under wrk.
OPS = [
    ("POST ticket (creation)", ("create", "customer"), "peer_create"),
    ("POST reply (public follow-up)", ("reply", "agent"), "peer_reply"),
]
READ = "GET ticket (read by id), one request at a time"

SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "peerdesk.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": %(database)r,
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "CONN_MAX_AGE": 600,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
MEDIA_ROOT = BASE_DIR / "media"
LOGIN_URL = "helpdesk:login"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "desk@example.com"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}
HELPDESK_API_ENABLED = True
HELPDESK_TEAMS_MODE_ENABLED = False  # the optional pinax-teams extra is not installed
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
"""

URLS = """\
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

LOAD = """\
import datetime
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from helpdesk.models import Queue, Ticket

n = %(tickets)d
User = get_user_model()
user = User.objects.create_superuser("bench", "agent@bench.example", "bench-password")
Token.objects.create(user=user, key=%(token)r)
queue = Queue.objects.create(title="Support", slug="support", email_address="desk@example.com")
words = %(words)r
now = timezone.now()
batch = []
for g in range(1, n + 1):
    at = now - datetime.timedelta(seconds=g)
    batch.append(
        Ticket(
            queue=queue,
            title=f"{words[g %% len(words)]} {words[(g // 7) %% len(words)]} {g}",
            description=f"Descrizione {words[(g // 3) %% len(words)]}",
            submitter_email=f"c{1 + g %% 1000}@example.com",
            status=Ticket.OPEN_STATUS if g %% 2 else Ticket.REOPENED_STATUS,
            priority=3,
            created=at,
            modified=at,
        )
    )
Ticket.objects.bulk_create(batch, batch_size=2000)
print("loaded", Ticket.objects.count(), "tickets")
"""


def venv_python(scratch: Path) -> Path:
    return scratch / "venv" / "bin" / "python"


def setup(args: argparse.Namespace) -> None:
    scratch = Path(args.scratch).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    py = venv_python(scratch)
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(scratch / "venv")], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", PEER_VERSION, "gunicorn", "psycopg2-binary"],
        check=True,
    )
    project = scratch / "peerdesk"
    (project / "peerdesk").mkdir(parents=True, exist_ok=True)
    (project / "peerdesk" / "__init__.py").write_text("")
    (project / "peerdesk" / "settings.py").write_text(SETTINGS % {"database": args.peer_database})
    (project / "peerdesk" / "urls.py").write_text(URLS)
    (project / "peerdesk" / "wsgi.py").write_text(
        "import os\n"
        "from django.core.wsgi import get_wsgi_application\n"
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerdesk.settings")\n'
        "application = get_wsgi_application()\n"
    )
    for sql in (
        f"DROP DATABASE IF EXISTS {args.peer_database}",
        f"CREATE DATABASE {args.peer_database}",
    ):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    manage(scratch, "migrate", "-v", "0")
    from bench.wrk_bench import WORDS

    started = time.perf_counter()
    manage(
        scratch,
        "shell",
        "-c",
        LOAD % {"tickets": args.tickets, "token": PEER_TOKEN, "words": WORDS},
    )
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            args.peer_database,
            "-qc",
            "VACUUM ANALYZE",
        ],
        check=True,
    )
    print(f"peer: {args.tickets} tickets in {time.perf_counter() - started:.0f} s", flush=True)
    asyncio.run(prepare(args.database_url, args.tickets, ROOT))


def manage(scratch: Path, *argv: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peerdesk.settings"}
    env.pop("PYTHONPATH", None)
    subprocess.run(
        [str(venv_python(scratch)), "-m", "django", *argv],
        cwd=scratch / "peerdesk",
        env=env,
        check=True,
    )


def serve_peer(scratch: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peerdesk.settings"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [str(scratch / "venv" / "bin" / "gunicorn"), "peerdesk.wsgi", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         # Its ticket read walks every ticket (see the README): not killed at 30 s.
         "--timeout", "600"],
        cwd=scratch / "peerdesk",
        env=env,
    )  # fmt: skip
    return proc, port


def wrk(
    port: int, lua: Path, op: str, auth: str, n: int, seconds: int, seed: int
) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "10s", "--latency",
           "-H", "Content-Type: application/json", "-H", f"Authorization: {auth}",
           "-s", str(lua), f"http://127.0.0.1:{port}", "--", op, str(n), str(seed), "2"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    data = json.loads(next(ln for ln in out.splitlines() if ln.startswith("{")))
    return {
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "requests": data["requests"],
        "errors": data["non2xx"] + data["socket_errors"],
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
    }


def drain(pid: int, limit: float = 180.0) -> float:
    """Wait until the server has finished what wrk left queued (its CPU time stops moving):
    a slow operation's backlog must not run into the next measurement. Returns the wait."""
    started = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - started < limit:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < 0.02:
            break
        last = now
    return time.monotonic() - started


def measure(pid: int, port: int, lua: Path, op: str, auth: str, args: argparse.Namespace,
            seed: int) -> dict[str, float]:  # fmt: skip
    drain(pid)
    before = cpu_seconds(pid)
    out = wrk(port, lua, op, auth, args.tickets, args.seconds, seed)
    # The CPU of the requests wrk counted: what the server still does after wrk stops is
    # for requests that were not answered in time, and is left out (drained, not counted).
    out["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / max(1, out["requests"])
    out["drain_s"] = drain(pid)
    out["load1"] = os.getloadavg()[0]
    return out


def read_sportello(port: int, n: int, seed: int) -> dict[str, float]:
    """Twenty reads of random tickets, one after the other: the median's latency."""
    rng = random.Random(seed)
    times = []
    with httpx.Client(headers={"Authorization": f"Bearer {AGENT_TOKEN}"}, timeout=600) as c:
        for _ in range(20):
            r = c.get(f"http://127.0.0.1:{port}/api/v1/tickets/{rng.randint(1, n)}")
            r.raise_for_status()
            times.append(r.elapsed.total_seconds() * 1000)
    return {"ms": statistics.median(times), "requests": len(times)}


def read_peer(port: int, n: int, seed: int) -> dict[str, float]:
    """One read of a random ticket (it takes seconds to minutes: see the README)."""
    rng = random.Random(seed)
    with httpx.Client(headers={"Authorization": f"Token {PEER_TOKEN}"}, timeout=900) as c:
        r = c.get(f"http://127.0.0.1:{port}/api/tickets/{rng.randint(1, n)}/")
        r.raise_for_status()
    return {"ms": r.elapsed.total_seconds() * 1000, "requests": 1}


def check(port: int, peer_port: int) -> dict[str, float]:
    """One request of each operation on each side must succeed before anything is timed;
    returns how long each took, alone (ms)."""
    sp = f"http://127.0.0.1:{port}/api/v1"
    pp = f"http://127.0.0.1:{peer_port}/api"
    cust = {"Authorization": f"Bearer {CUSTOMER_TOKEN}"}
    agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    peer = {"Authorization": f"Token {PEER_TOKEN}"}
    answers = [
        httpx.post(f"{sp}/tickets", headers=cust, timeout=30, json={
            "customer_code": "C7", "type": "technical", "subject": "Prova",
            "description": "Prova di carico."}),
        httpx.post(f"{sp}/tickets/1/replies", headers=agent, timeout=30,
                   json={"body": "Prova", "visibility": "public"}),
        httpx.post(f"{pp}/tickets/", headers=peer, timeout=30, json={
            "queue": 1, "title": "Prova", "description": "Prova di carico.",
            "submitter_email": "c7@example.com", "priority": 3}),
        httpx.post(f"{pp}/followups/", headers=peer, timeout=30, json={
            "ticket": 1, "title": "Risposta", "comment": "Prova", "public": True}),
    ]  # fmt: skip
    alone = {}
    for r in answers:
        if r.status_code >= 300:
            raise SystemExit(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:500]}")
        alone[f"{r.request.method} {r.request.url.path}"] = r.elapsed.total_seconds() * 1000
    return alone


def run(args: argparse.Namespace) -> None:
    scratch = Path(args.scratch).resolve()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    peer_version = subprocess.run(
        [str(venv_python(scratch)), "-c", "import django; from importlib.metadata import version;"
         "print(version('django-helpdesk'), django.get_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    app_proc, app_port = serve("app.main:app", ROOT, args.database_url)
    peer_proc, peer_port = serve_peer(scratch)
    tokens = {"agent": AGENT_TOKEN, "customer": CUSTOMER_TOKEN}
    runs: dict[str, list[dict[str, float]]] = {}
    load_before = os.getloadavg()
    try:
        wait_up(f"http://127.0.0.1:{app_port}/healthz")
        wait_up(f"http://127.0.0.1:{peer_port}/api/")
        alone = check(app_port, peer_port)
        for r in range(args.rounds):
            for side, reader in (("sportello", read_sportello), ("peer", read_peer)):
                port = app_port if side == "sportello" else peer_port
                runs.setdefault(f"{side}:{READ}", []).append(reader(port, args.tickets, r))
            for title, (op, who), peer_op in OPS:
                sides = [
                    ("sportello", app_proc.pid, app_port, LUA, op, f"Bearer {tokens[who]}"),
                    ("peer", peer_proc.pid, peer_port, PEER_LUA, peer_op, f"Token {PEER_TOKEN}"),
                ]
                if r % 2:
                    sides.reverse()
                for side, pid, port, lua, name, auth in sides:
                    out = measure(pid, port, lua, name, auth, args, r + 1)
                    runs.setdefault(f"{side}:{title}", []).append(out)
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        for proc in (app_proc, peer_proc):
            proc.terminate()
            proc.wait(timeout=30)
    load_after = os.getloadavg()
    summary: dict[str, dict[str, object]] = {}
    reads = {side: [x["ms"] for x in runs[f"{side}:{READ}"]] for side in ("sportello", "peer")}
    summary[READ] = {
        side: {"ms_median": statistics.median(v), "ms": v} for side, v in reads.items()
    }
    summary[READ]["speedup"] = statistics.median(reads["peer"]) / statistics.median(
        reads["sportello"]
    )
    for title, _, _ in OPS:
        row: dict[str, object] = {}
        for side in ("sportello", "peer"):
            rs = runs[f"{side}:{title}"]
            row[side] = {
                "rps": statistics.median(x["rps"] for x in rs),
                "p50_ms": statistics.median(x["p50_ms"] for x in rs),
                "p99_ms": statistics.median(x["p99_ms"] for x in rs),
                "cpu_ms_per_request": statistics.median(x["cpu_ms"] for x in rs),
                "errors": sum(int(x["errors"]) for x in rs),
                "requests_total": sum(int(x["requests"]) for x in rs),
                "rounds": rs,
            }
        s, p = row["sportello"], row["peer"]
        row["speedup"] = s["rps"] / p["rps"] if p["rps"] else None  # type: ignore[index,operator]
        row["p99_below_peer"] = s["p99_ms"] < p["p99_ms"] if p["requests_total"] else None  # type: ignore[index,operator]
        summary[title] = row
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "code": commit,
        "peer": {
            "package": PEER_VERSION,
            "versions": peer_version,
            "server": "gunicorn, 2 sync workers",
            "database": "PostgreSQL (psycopg2, CONN_MAX_AGE=600)",
        },
        "sportello": {"server": "uvicorn, 2 workers", "database": "PostgreSQL (asyncpg)"},
        "tickets": args.tickets,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "wrk": "2 threads, 16 connections, 10 s timeout",
        "operations": summary,
        "one_request_alone_ms": alone,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{result['date'][:10]}-{socket.gethostname()}-{args.label}-{args.tickets}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"written bench/results/{name}")


def table(result: dict[str, object]) -> str:
    ops: dict[str, dict[str, dict[str, float]]] = result["operations"]  # type: ignore[assignment]
    lines = [
        f"Sportello ({result['code']}) and {PEER_VERSION}, {result['tickets']:,} tickets, "
        f"{result['date']}, load average {result['load_average_before']} -> "
        f"{result['load_average_after']}",
        "| operation | Sportello req/s | p99 ms | CPU ms/req | peer req/s | p99 ms | CPU ms/req "
        "| Sportello / peer |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for title, row in ops.items():
        if title == READ:
            s, p = row["sportello"], row["peer"]
            lines.append(
                f"| {title} | — | {s['ms_median']:.0f} ms | — | — | {p['ms_median']:.0f} ms | — "
                f"| {row['speedup']:.0f}x |"
            )
            continue
        s, p = row["sportello"], row["peer"]
        speed = f"{row['speedup']:.1f}x" if row["speedup"] else "peer answered nothing"
        peer_p99 = f"{p['p99_ms']:.0f}" if p["requests_total"] else "—"
        lines.append(
            f"| {title} | {s['rps']:.0f} | {s['p99_ms']:.0f} | {s['cpu_ms_per_request']:.1f} "
            f"| {p['rps']:.2f} | {peer_p99} | {p['cpu_ms_per_request']:.0f} | {speed} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("setup", "run"):
        p = sub.add_parser(name)
        p.add_argument("--scratch", required=True, help="a scratch dir: the venv, the project")
        p.add_argument("--peer-database", default="bench_peer")
        p.add_argument("--database-url", required=True, help="Sportello's bench database")
        p.add_argument("--tickets", type=int, default=10_000)
    p.add_argument("--label", default="peer", help="the results file's label")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if args.command == "setup":
        setup(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
