"""Peak memory of the server while it takes (or refuses) large uploads and serves them back.

Starts ``sportello serve`` in a subprocess (SQLite and attachments in a
temporary folder), then for each scenario resets the process's peak resident
size (``/proc/PID/clear_refs``), runs the request, and reads the new peak
(``VmHWM``) against the resident size before it. The request bodies are
generated chunk by chunk, so the client holds no file either.

    .venv/bin/python bench/upload_memory.py            # print the table
    .venv/bin/python bench/upload_memory.py --write    # and update bench/RESULTS.md

Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

MiB = 1024 * 1024
HERE = Path(__file__).resolve().parent
MARK_START, MARK_END = "<!-- upload_memory:start -->", "<!-- upload_memory:end -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)


def multipart(name: str, head: bytes, size: int, boundary: str) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    yield head
    block = bytes(64 * 1024)
    sent = len(head)
    while sent < size:
        n = min(len(block), size - sent)
        yield block[:n]
        sent += n
    yield f"\r\n--{boundary}--\r\n".encode()


def mp4_head() -> bytes:
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08mdat"


class Server:
    def __init__(self, workdir: Path, max_bytes: int) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "SPORTELLO_MAX_ATTACHMENT_BYTES": str(max_bytes),
            "SPORTELLO_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            "SPORTELLO_STORAGE_DIR": str(workdir / "attachments"),
            "SPORTELLO_ADMIN_EMAIL": "admin@bench.example",
            "SPORTELLO_ADMIN_PASSWORD": "bench-password",
            "SPORTELLO_RUN_WORKER": "false",
            "SPORTELLO_ARGON2_TIME_COST": "1",
            "SPORTELLO_ARGON2_MEMORY_KIB": "8",
            "SPORTELLO_LOG_LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


Result = tuple[str, int, float, float, float, float]
"""Scenario, status, RSS before (MiB), median and max peak growth (MiB), median seconds."""


def measure(pid: int, label: str, action: Callable[[], int], runs: int) -> Result:
    growths, times, statuses, before = [], [], set(), []
    for _ in range(runs):
        rss = status_kib(pid, "VmRSS")
        before.append(rss / 1024)
        reset_peak(pid)
        started = time.perf_counter()
        statuses.add(action())
        times.append(time.perf_counter() - started)
        growths.append((status_kib(pid, "VmHWM") - rss) / 1024)
    assert len(statuses) == 1, statuses
    return (
        label,
        statuses.pop(),
        statistics.median(before),
        statistics.median(growths),
        max(growths),
        statistics.median(times),
    )


def run(runs: int) -> list[Result]:
    return scenarios(10 * MiB, runs, over=True) + scenarios(64 * MiB, runs, over=False)


def scenarios(max_bytes: int, runs: int, *, over: bool) -> list[Result]:
    """With the limit at ``max_bytes``: 50 MiB refused (``over``) or taken, then a download."""
    with tempfile.TemporaryDirectory(prefix="sportello-bench-") as tmp:
        server = Server(Path(tmp), max_bytes)
        try:
            api = httpx.Client(base_url=f"{server.base}/api/v1", timeout=120)
            token = api.post(
                "/auth/login", json={"email": "admin@bench.example", "password": "bench-password"}
            ).json()["access_token"]
            api.headers["Authorization"] = f"Bearer {token}"
            assert api.post("/customers", json={"code": "BENCH", "name": "Bench"}).is_success
            ticket = api.post(
                "/tickets",
                json={
                    "customer_code": "BENCH",
                    "type": "technical",
                    "subject": "Registrazione dello schermo",
                    "description": "Video allegato.",
                },
            ).json()
            url = f"/tickets/{ticket['id']}/attachments"
            boundary = "bench-boundary"
            headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
            uploaded: list[int] = []

            def upload(size: int) -> Callable[[], int]:
                def go() -> int:
                    body = multipart("schermo.mp4", mp4_head() + os.urandom(16), size, boundary)
                    r = api.post(url, content=body, headers=headers)
                    if r.status_code == 201:
                        uploaded.append(r.json()["attachments"][0]["id"])
                    return r.status_code

                return go

            def json_body() -> int:
                def chunks() -> Iterator[bytes]:
                    yield b'{"code": "X", "name": "'
                    for _ in range(10 * 16):
                        yield b"a" * (64 * 1024)
                    yield b'"}'

                ctype = {"Content-Type": "application/json"}
                return api.post("/customers", content=chunks(), headers=ctype).status_code

            def download() -> int:
                with api.stream("GET", f"/attachments/{uploaded[-1]}/content") as r:
                    for _ in r.iter_raw():
                        pass
                    return r.status_code

            upload(MiB)()  # warm up: imports, first connection, storage folders
            limit = f"limit {max_bytes // MiB} MiB"
            plan = [
                (f"upload 50 MiB, {limit}", upload(50 * MiB)),
                (f"upload 10 MiB, {limit}", upload(10 * MiB)),
                (f"download {10 if over else 50} MiB", download),
            ]
            if over:
                plan.append(("control: 10 MiB JSON body to an ordinary endpoint", json_body))
            else:
                plan = [plan[0], plan[2]]
            return [measure(server.proc.pid, label, action, runs) for label, action in plan]
        finally:
            server.stop()


def table(results: list[Result], runs: int) -> str:
    lines = [
        f"`bench/upload_memory.py`, {time.strftime('%Y-%m-%d')}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, SQLite, `sportello serve` in a "
        f"subprocess, loopback; median of {runs} runs after a 1 MiB warm-up upload. "
        "Peak growth = the server process's VmHWM during the request minus its VmRSS "
        "just before (VmHWM reset through /proc/PID/clear_refs). The control row sends a "
        "10 MiB JSON body to an ordinary endpoint: before the body limit middleware it was "
        "read whole (422, 18.9 MiB median / 38.3 MiB max growth); now it is refused with 413 "
        "as soon as its length is known.",
        "",
        "| scenario | status | server RSS before | peak RSS growth (median / max) | time |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, status, before, growth, worst, seconds in results:
        lines.append(
            f"| {label} | {status} | {before:.1f} MiB | {growth:.1f} / {worst:.1f} MiB "
            f"| {seconds:.2f} s |"
        )
    return "\n".join(lines)


def write(text: str) -> None:
    path = HERE / "RESULTS.md"
    section = f"{MARK_START}\n## Upload memory\n\n{text}\n{MARK_END}"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if MARK_START in old:
        before, rest = old.split(MARK_START, 1)
        new = before + section + rest.split(MARK_END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    results = run(args.runs)
    text = table(results, args.runs)
    print(text)
    if args.write:
        write(text)
    print(json.dumps({r[0]: round(r[3], 2) for r in results}))


if __name__ == "__main__":
    main()
