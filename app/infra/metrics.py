"""Prometheus metrics that add up across processes.

One process keeps its counters in its own registries. Several processes on one machine
(``sportello serve --workers N``, ``sportello worker`` beside them) share a folder,
``SPORTELLO_METRICS_DIR``, in prometheus_client's multiprocess mode: each process writes
its values to files there and ``/metrics`` sums them, so a scrape sees the machine as a
whole whichever process answers. Several machines are several scrape targets, which
Prometheus adds up itself. The mode must be chosen before prometheus_client is imported,
so the command (``app.cli``) sets ``PROMETHEUS_MULTIPROC_DIR`` first thing.

Figures that belong to the database (the mail queue) are read from it at scrape time,
so they are right whichever process or machine answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client import multiprocess as mp

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class WorkerMetrics:
    """Job runs and failures, counted in whichever process runs the worker."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "sportello_worker_job_runs_total",
            "Worker job runs, by job.",
            ["job"],
            registry=self.registry,
        )
        self.failures = Counter(
            "sportello_worker_job_failures_total",
            "Worker job runs that failed, by job.",
            ["job"],
            registry=self.registry,
        )


WORKER_METRICS = WorkerMetrics()


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render(registries: Iterable[CollectorRegistry], extra: str = "") -> bytes:
    """The text exposition: the processes' summed values in multiprocess mode, else this
    process's registries; then ``extra`` (figures read from the database)."""
    if multiprocess():
        merged = CollectorRegistry()
        mp.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        body = generate_latest(merged)
    else:
        body = b"".join(generate_latest(r) for r in registries)
    return body + extra.encode()


def serve_worker_metrics(port: int, host: str) -> None:
    """A worker has no HTTP API: its job counters are served on a port of their own
    (``sportello worker --metrics-port``), summed over the machine's processes in
    multiprocess mode."""
    from prometheus_client import start_http_server

    registry = WORKER_METRICS.registry
    if multiprocess():
        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)


def gauge_lines(name: str, help_text: str, value: float) -> str:
    """One gauge in the text format (for the figures read at scrape time)."""
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name} {value:g}\n"
