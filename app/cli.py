"""The ``sportello`` command: serve, migrate, worker, create-admin, demo-data, openapi."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
from pathlib import Path

from app.config import VAR_DIR, SettingsError, get_settings, unknown_variables
from app.version import __version__

HELP = argparse.ArgumentDefaultsHelpFormatter


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

    get_settings()  # bad settings stop here, as one line each, before uvicorn starts
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
    try:
        if args.revision.startswith("-") or args.downgrade:
            migrate.downgrade(settings.database_url, args.revision)
        else:
            migrate.upgrade(settings.database_url, args.revision)
    except migrate.UnknownRevision as exc:
        print(f"sportello migrate: {exc}", file=sys.stderr)
        return 2
    print(f"database at {args.revision}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    _metrics_for(1, clear=False)
    from app import logs
    from app.db.session import make_engine, make_sessionmaker
    from app.worker import run_forever, run_jobs_once

    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
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
    try:
        # The rules of POST /users, checked before the schema is touched.
        user_service.check_credentials(args.email, password)
    except DomainError as exc:
        print(f"sportello create-admin: {exc.detail}", file=sys.stderr)
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
        print(f"sportello create-admin: {exc.detail}", file=sys.stderr)
        return 1
    print(f"admin {args.email} created")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from app.demo import DemoRefused, load_demo_data

    settings = get_settings()
    _ensure_schema()
    try:
        summary = asyncio.run(load_demo_data(settings))
    except DemoRefused as exc:
        print(f"sportello demo-data: not loaded: {exc}", file=sys.stderr)
        return 1
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary.tickets_by_status.items()))
    print(f"demo data loaded: {sum(summary.tickets_by_status.values())} tickets ({statuses})")
    print(f"log in with any of these, password {summary.password!r}:")
    width = max(len(email) for _, email, _ in summary.logins)
    for role, email, name in summary.logins:
        print(f"  {role:<8} {email:<{width}}  {name}")
    if summary.public_link:
        print(f"a solved ticket's public status page: {summary.public_link}")
    print("admins made before (e.g. by SPORTELLO_ADMIN_EMAIL) are unchanged")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from app.main import app

    text = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


EX_DATAERR = 65
"""sysexits: the message is refused (too large, not a mail): the MTA bounces it."""
EX_TEMPFAIL = 75
"""sysexits: try again later (the API is down, the key is wrong): the MTA keeps the mail."""


def _mailgate(args: argparse.Namespace) -> int:
    """Post one message read on standard input to ``POST /api/v1/inbound/mail``.

    For an MTA's pipe transport (as Request Tracker's ``rt-mailgate``): exit 0 when
    the mail was received (a ticket, a reply, or a refusal recorded and answered),
    75 when it must be delivered again later, 65 when the API will never take it.
    """
    import urllib.error
    import urllib.request

    key = os.environ.get("SPORTELLO_MAILGATE_KEY", "")
    if args.key_file:
        key = Path(args.key_file).read_text(encoding="utf-8").strip()
    if not key:
        print("mailgate: no API key (SPORTELLO_MAILGATE_KEY or --key-file)", file=sys.stderr)
        return EX_TEMPFAIL
    raw = sys.stdin.buffer.read(args.max_bytes + 1)
    if len(raw) > args.max_bytes:
        print("mailgate: the message is larger than --max-bytes", file=sys.stderr)
        return EX_DATAERR
    url = args.url.rstrip("/") + "/api/v1/inbound/mail?source=mailgate"
    if not url.startswith(("http://", "https://")):
        print("mailgate: --url must be an http:// or https:// URL", file=sys.stderr)
        return EX_TEMPFAIL
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=raw,
        method="POST",
        headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = ""
        with contextlib.suppress(Exception):
            detail = json.loads(exc.read()).get("detail", "")
        print(f"mailgate: HTTP {exc.code} {detail}", file=sys.stderr)
        return EX_DATAERR if exc.code in (400, 413, 415, 422) else EX_TEMPFAIL
    except (OSError, ValueError) as exc:
        print(f"mailgate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    print(f"mailgate: {body.get('outcome')} {body.get('ticket_number') or ''}".rstrip())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sportello",
        description="Sportello help desk. Settings come from SPORTELLO_* variables "
        "(see the README's Settings section).",
        formatter_class=HELP,
    )
    parser.add_argument("--version", action="version", version=f"sportello {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API with uvicorn", formatter_class=HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="number of server processes")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser(
        "migrate", help="upgrade (or downgrade) the database schema", formatter_class=HELP
    )
    mig.add_argument(
        "revision", nargs="?", default="head", help="target revision (head, base, 0003, -1, ...)"
    )
    mig.add_argument("--downgrade", action="store_true", help="go down to REVISION instead of up")
    mig.set_defaults(func=_migrate)

    worker = sub.add_parser(
        "worker", help="run the periodic jobs and the mail dispatcher", formatter_class=HELP
    )
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve the worker's Prometheus metrics on this port (0: not served)",
    )
    worker.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address for --metrics-port (0.0.0.0 in a container)",
    )
    worker.set_defaults(func=_worker)

    admin = sub.add_parser(
        "create-admin",
        help="create an administrator",
        description="Create an administrator. The password is read from "
        "SPORTELLO_NEW_ADMIN_PASSWORD, else standard input (--password-stdin), else a prompt; "
        "it follows the rules of POST /users (8 to 256 characters).",
        formatter_class=HELP,
    )
    admin.add_argument("email", help="the admin's e-mail address (their login)")
    admin.add_argument("--name", default="Administrator", help="display name")
    admin.add_argument(
        "--locale", choices=["it", "es", "en"], default="en", help="language of the admin's mail"
    )
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    admin.set_defaults(func=_create_admin)

    demo = sub.add_parser(
        "demo-data",
        help="fill the database with a desk worth clicking through",
        description="Add demo customers, agents, tickets in every status with replies, notes, "
        "attachments and solutions, and knowledge-base articles; print the logins. Works on a "
        "fresh database or one holding only admins (the README quickstart's).",
        formatter_class=HELP,
    )
    demo.set_defaults(func=_demo_data)

    gate = sub.add_parser(
        "mailgate", help="post one mail read on stdin (an MTA's pipe)", formatter_class=HELP
    )
    gate.add_argument(
        "--url",
        default=os.environ.get("SPORTELLO_MAILGATE_URL", "http://127.0.0.1:8000"),
        help="the Sportello server ($SPORTELLO_MAILGATE_URL if set)",
    )
    gate.add_argument("--key-file", help="a file holding the API key (scope mail:ingest)")
    gate.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the API")
    gate.add_argument(
        "--max-bytes", type=int, default=25 * 1024 * 1024, help="largest mail accepted"
    )
    gate.set_defaults(func=_mailgate)

    spec = sub.add_parser("openapi", help="write the OpenAPI schema", formatter_class=HELP)
    spec.add_argument("--output", "-o", default="openapi.json", help="file to write, - for stdout")
    spec.set_defaults(func=_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "serve":  # the server logs them itself, once per process
        for warning in unknown_variables(os.environ):
            print(f"sportello: warning: {warning}", file=sys.stderr)
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        for line in exc.lines:
            print(f"sportello: {line}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
