"""Metrics that add up across processes: ``sportello serve --workers 2`` and a separate
``sportello worker`` sharing ``SPORTELLO_METRICS_DIR``; whichever process answers the
scrape, the counts are the machine's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.smtp import free_port

SPORTELLO = str(Path(sys.executable).parent / "sportello")
SCRAPER = "metrics-scraper-token-for-the-test"
AUTH = {"Authorization": f"Bearer {SCRAPER}"}


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SPORTELLO_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        SPORTELLO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}",
        SPORTELLO_STORAGE_DIR=str(tmp_path / "files"),
        SPORTELLO_METRICS_DIR=str(tmp_path / "metrics"),
        SPORTELLO_RUN_WORKER="false",
        SPORTELLO_ARGON2_TIME_COST="1",
        SPORTELLO_ARGON2_MEMORY_KIB="8",
        SPORTELLO_METRICS_TOKEN=SCRAPER,
    )
    return env


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [SPORTELLO, "serve", "--port", str(port), "--workers", "2"],
        env=env_for(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sportello serve did not start")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def counts(text: str, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for metric in text_string_to_metric_families(text):
        for sample in metric.samples:
            if sample.name == family:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_requests_served_by_two_processes_add_up_in_every_scrape(
    two_workers: str, tmp_path: Path
) -> None:
    def hit(_: int) -> int:
        # A new connection each time, many at once, so both processes take some.
        return httpx.get(f"{two_workers}/healthz", timeout=10).status_code

    sent = 0
    for _ in range(10):
        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(hit, range(64))) == {200}
        sent += 64
        pids = {p.name.rsplit("_", 1)[-1] for p in (tmp_path / "metrics").glob("counter_*.db")}
        if len(pids) >= 2:
            break
    assert len(pids) >= 2, "both server processes answered and wrote their counters"
    key = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    for _ in range(4):  # each scrape may be answered by either process
        text = httpx.get(f"{two_workers}/metrics", timeout=10, headers=AUTH).text
        assert counts(text, "sportello_http_requests_total")[key] == sent
    assert "sportello_mail_queue_depth 0" in text

    # A worker process beside them counts its job runs into the same figures.
    subprocess.run(
        [SPORTELLO, "worker", "--once"],
        env=env_for(tmp_path),
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    text = httpx.get(f"{two_workers}/metrics", timeout=10, headers=AUTH).text
    runs = counts(text, "sportello_worker_job_runs_total")
    assert runs[(("job", "automatic_ticket_moves"),)] == 1
    assert runs[(("job", "mail_dispatch"),)] == 1


def test_a_worker_process_serves_its_job_counters_on_its_own_port(tmp_path: Path) -> None:
    port = free_port()
    env = env_for(tmp_path)
    subprocess.run([SPORTELLO, "migrate"], env=env, cwd=tmp_path, check=True, timeout=120)
    worker = subprocess.Popen(
        [SPORTELLO, "worker", "--metrics-port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                runs = counts(text, "sportello_worker_job_runs_total")
                if runs.get((("job", "mail_dispatch"),), 0) >= 1:
                    break
            except httpx.TransportError:
                pass
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "no job runs counted"
            time.sleep(0.2)
        assert runs[(("job", "purge_orphan_attachments"),)] >= 1
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
