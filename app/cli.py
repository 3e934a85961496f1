"""The ``sportello`` command: serve, migrate, worker, create-admin, demo-data, openapi."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path

from app.config import VAR_DIR, get_settings


def _metrics_for(workers: int, *, clear: bool) -> None:
    """Multiprocess metrics (app/infra/metrics.py) when a folder is set, or when one
    command starts several processes; chosen before anything imports prometheus_client.
    The serving command clears the files of an earlier run before its workers start."""
    settings = get_settings()
    directory = settings.metrics_dir
    if directory is None and workers > 1:
        directory = VAR_DIR / "metrics"
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    if clear:
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    _metrics_for(args.workers, clear=True)

    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        # X-Forwarded-For is read by Sportello itself, from SPORTELLO_TRUSTED_PROXIES only
        # (app/api/client.py); uvicorn's own reading would trust any local peer.
        proxy_headers=False,
        log_level="info",
        # Sportello writes its own access log (app/api/middleware.py) without raw paths.
        access_log=False,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from app.db import migrate

    settings = get_settings()
    if args.revision.startswith("-") or args.downgrade:
        migrate.downgrade(settings.database_url, args.revision)
    else:
        migrate.upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    _metrics_for(1, clear=False)
    from app import logs
    from app.db.session import make_engine, make_sessionmaker
    from app.worker import run_forever, run_jobs_once

    settings = get_settings()
    logs.configure(settings.log_level)
    if args.metrics_port:
        from app.infra.metrics import serve_worker_metrics

        serve_worker_metrics(args.metrics_port, args.metrics_host)

    async def main() -> None:
        engine = make_engine(settings)
        sessions = make_sessionmaker(engine, settings)
        try:
            if args.once:
                await run_jobs_once(sessions, settings)
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            import signal

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_forever(sessions, settings, stop)
        finally:
            await engine.dispose()

    asyncio.run(main())
    return 0


def _ensure_schema() -> None:
    settings = get_settings()
    if settings.auto_migrate:
        from app.db import migrate

        migrate.upgrade(settings.database_url)


def _create_admin(args: argparse.Namespace) -> int:
    from app.db.session import make_engine, make_sessionmaker
    from app.domain.access import Locale, Role
    from app.domain.errors import DomainError
    from app.services import users as user_service

    settings = get_settings()
    password = os.environ.get("SPORTELLO_NEW_ADMIN_PASSWORD") or ""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        password = getpass.getpass("Password for the new admin: ")
    if len(password) < 8:
        print("the password must have at least 8 characters", file=sys.stderr)
        return 2

    _ensure_schema()

    async def main() -> None:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine).begin() as session:
                await user_service.create(
                    session,
                    settings,
                    None,
                    email=args.email,
                    name=args.name,
                    password=password,
                    role=Role.ADMIN,
                    customer_id=None,
                    phone=None,
                    locale=Locale(args.locale),
                )
        finally:
            await engine.dispose()

    try:
        asyncio.run(main())
    except DomainError as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    print(f"admin {args.email} created")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from app.demo import load_demo_data

    settings = get_settings()
    _ensure_schema()
    created = asyncio.run(load_demo_data(settings))
    if not created:
        print("the database is not empty: demo data not loaded", file=sys.stderr)
        return 1
    print("demo data loaded; log in as any demo user with the password 'demo-password'")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from app.main import app

    text = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sportello", description="Sportello help desk")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="upgrade (or downgrade) the database schema")
    mig.add_argument("revision", nargs="?", default="head")
    mig.add_argument("--downgrade", action="store_true")
    mig.set_defaults(func=_migrate)

    worker = sub.add_parser("worker", help="run the periodic jobs and the mail dispatcher")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve the worker's Prometheus metrics on this port (default: 0, not served)",
    )
    worker.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address for --metrics-port (default: 127.0.0.1; 0.0.0.0 in a container)",
    )
    worker.set_defaults(func=_worker)

    admin = sub.add_parser("create-admin", help="create an administrator")
    admin.add_argument("email")
    admin.add_argument("--name", default="Administrator")
    admin.add_argument("--locale", choices=["it", "es", "en"], default="en")
    admin.add_argument("--password-stdin", action="store_true")
    admin.set_defaults(func=_create_admin)

    demo = sub.add_parser("demo-data", help="fill an empty database with example data")
    demo.set_defaults(func=_demo_data)

    spec = sub.add_parser("openapi", help="write the OpenAPI schema")
    spec.add_argument("--output", "-o", default="openapi.json")
    spec.set_defaults(func=_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
