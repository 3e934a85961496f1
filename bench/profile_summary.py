"""Where a server's CPU goes, from a py-spy recording in "raw" (collapsed stacks) format.

    py-spy record --subprocesses --format raw -o /tmp/read.txt --duration 10 --pid SERVER_PID
    python bench/profile_summary.py /tmp/read.txt

Each sample is charged to the first bucket, from the innermost frame outwards, whose
pattern its frames match (so "SQLAlchemy" is SQLAlchemy's own code, not the driver it calls).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

BUCKETS = [
    (
        "idle (event loop waiting)",
        ("select (selectors.py", "epoll", "_run_once (asyncio/base_events.py"),
    ),
    ("asyncpg driver and protocol", ("asyncpg",)),
    ("SQLAlchemy (statements, ORM, pool)", ("sqlalchemy",)),
    ("pydantic (validation, serialisation)", ("pydantic",)),
    ("full-text analysis (stemming)", ("snowballstemmer", "app/db/text_analysis.py")),
    ("JSON encoding/decoding", ("json/",)),
    ("Sportello's own code", ("(app/", "/app/")),
    ("FastAPI / Starlette (routing, dependencies, middleware)", ("fastapi", "starlette")),
    ("uvicorn / HTTP parsing", ("uvicorn", "httptools", "h11")),
    ("asyncio", ("asyncio",)),
]


def bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, patterns in BUCKETS:
            if any(p in frame for p in patterns):
                return name
    return "other"


def main() -> None:
    counts: Counter[str] = Counter()
    for line in Path(sys.argv[1]).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        counts[bucket(stack.split(";"))] += int(n)
    busy = sum(v for k, v in counts.items() if not k.startswith("idle"))
    print("| where | share of busy CPU samples |")
    print("| --- | --- |")
    for name, n in counts.most_common():
        if name.startswith("idle"):
            continue
        print(f"| {name} | {100 * n / busy:.0f} % |")


if __name__ == "__main__":
    main()
