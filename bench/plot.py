"""Draw bench/results/*.json (from wrk_bench.py): req/s and p99 against the number of tickets.

    pip install -e '.[bench]' && python bench/plot.py [--label after] [--out bench/results/perf.png]

One line per operation (the ceiling's two in grey); the newest result of each label and
size is used. Also prints the README's table: per operation and size, req/s, p99, the
ratio to the ceiling and the CPU per request against the ceiling's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"


def load(label: str) -> dict[int, dict[str, object]]:
    """The newest result per size for ``label``."""
    out: dict[int, dict[str, object]] = {}
    for path in sorted(RESULTS.glob(f"*-{label}-*.json")):
        data = json.loads(path.read_text())
        if data["label"] != label:
            continue
        n = int(data["tickets"])
        if n not in out or data["date"] > out[n]["date"]:  # type: ignore[operator]
            out[n] = data
    return out


def plot(results: dict[int, dict[str, object]], out: Path, label: str) -> None:
    sizes = sorted(results)
    names = list(results[sizes[0]]["operations"])  # type: ignore[call-overload]
    fig, (ax_rps, ax_p99) = plt.subplots(1, 2, figsize=(13, 5.5))
    for name in names:
        ops = [results[n]["operations"][name] for n in sizes]  # type: ignore[index]
        title = ops[0].get("title", name)
        style = {"color": "grey", "linestyle": "--"} if name.startswith("ceiling") else {}
        ax_rps.plot(sizes, [o["rps"] for o in ops], marker="o", label=title, **style)
        ax_p99.plot(sizes, [o["p99_ms"] for o in ops], marker="o", label=title, **style)
    for ax, what in ((ax_rps, "requests/s (median of rounds)"), (ax_p99, "p99 latency, ms")):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.set_xlabel("tickets in the database")
        ax.set_ylabel(what)
        ax.grid(True, alpha=0.3)
    ax_p99.set_yscale("log")
    ax_rps.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.15), ncol=3)
    first = results[sizes[0]]
    machine = first["machine"]
    fig.suptitle(
        f"Sportello ({label}) and its ceiling app, wrk 16 connections, 2 uvicorn workers each; "
        f"{machine['cpus']} shared CPUs, PostgreSQL {machine['postgresql']}",  # type: ignore[index]
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def table(by_label: dict[str, dict[int, dict[str, object]]]) -> str:
    lines = [
        "| operation | tickets | "
        + " | ".join(
            f"{label} req/s | {label} p99 ms | {label} ratio | {label} CPU vs ceiling"
            for label in by_label
        )
        + " |",
        "| --- | --- | " + " | ".join("--- | --- | --- | ---" for _ in by_label) + " |",
    ]
    sizes = sorted({n for results in by_label.values() for n in results})
    any_results = next(iter(by_label.values()))
    names = list(next(iter(any_results.values()))["operations"])  # type: ignore[call-overload]
    for name in names:
        for n in sizes:
            cells = []
            title = name
            for results in by_label.values():
                op = results.get(n, {}).get("operations", {}).get(name)  # type: ignore[attr-defined]
                if op is None:
                    cells.append("— | — | — | —")
                    continue
                title = op.get("title", name)
                ratio = f"{op['ratio']:.2f}" if "ratio" in op else "1"
                cpu = f"{op['cpu_vs_ceiling']:.1f}x" if "cpu_vs_ceiling" in op else "1x"
                cells.append(f"{op['rps']:.0f} | {op['p99_ms']:.0f} | {ratio} | {cpu}")
            lines.append(f"| {title} | {n:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="after")
    parser.add_argument("--compare", default="before", help="a second label for the table")
    parser.add_argument("--out", default=str(RESULTS / "perf.png"))
    args = parser.parse_args()
    results = load(args.label)
    plot(results, Path(args.out), args.label)
    by_label = {args.compare: load(args.compare), args.label: results}
    print(table({k: v for k, v in by_label.items() if v}))


if __name__ == "__main__":
    main()
