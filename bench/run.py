"""Run every registered benchmark (or the named ones) and print a table of ratios.

The registry is :data:`MODULES`: each module listed there exposes ``BENCHMARKS``, a
list of :class:`common.Benchmark`. A new benchmark is a function returning rows, added
to its module's list (or a new module added here).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import sys
from collections.abc import Sequence

from common import BenchError, Benchmark, Options, Row, tool_versions

#: Modules (in bench/) that contribute benchmarks, in the order they run.
MODULES = ("validate", "transfer", "build", "init", "docker", "amazon", "ansible", "leaks")


def registry() -> list[Benchmark]:
    """Every benchmark of every module in :data:`MODULES`."""
    found: list[Benchmark] = []
    for name in MODULES:
        found.extend(importlib.import_module(name).BENCHMARKS)
    return found


def _cell(value: float | None, row: Row) -> str:
    if value is None:
        return "-"
    return f"{value:.{row.digits}f} {row.unit}"


def format_table(rows: Sequence[Row]) -> str:
    """Rows as an aligned text table, each row's notes under it."""
    header = ("benchmark", "kiln", "peer", "ratio", "target", "")
    cells = [header]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        target = "-" if row.target is None else f"≤ {row.target:.2f}"
        if row.target is None and row.limit is not None:
            target = f"≤ {row.limit:.2f} {row.unit}"
        verdict = {True: "ok", False: row.missed, None: ""}[row.on_target]
        cells.append(
            (
                row.name,
                _cell(row.kiln, row),
                _cell(row.reference, row),
                ratio,
                target,
                verdict,
            )
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = []
    for index, line in enumerate(cells):
        text = "  ".join(
            cell.ljust(width) if col == 0 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        lines.append(text.rstrip())
        if index == 0:
            lines.append("-" * len(lines[0]))
        else:
            lines.extend(f"    {note}" for note in rows[index - 1].notes)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run", description="Run kiln's benchmarks and print a table of ratios."
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (glob patterns); default all")
    parser.add_argument("-n", "--repetitions", type=int, default=10, help="timed runs (median)")
    parser.add_argument("-w", "--warmup", type=int, default=2, help="untimed runs first")
    parser.add_argument("-l", "--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    benchmarks = registry()
    if args.names:
        benchmarks = [
            b for b in benchmarks if any(fnmatch.fnmatch(b.name, pat) for pat in args.names)
        ]
        if not benchmarks:
            parser.error(f"no benchmark matches {' '.join(args.names)} (see bench/run --list)")
    if args.list:
        width = max(len(b.name) for b in benchmarks)
        for bench in benchmarks:
            print(f"{bench.name:<{width}}  {bench.summary}")
        return 0

    options = Options(repetitions=args.repetitions, warmup=args.warmup)
    print(" | ".join(tool_versions()))
    print(f"median of {options.repetitions} runs after {options.warmup} warm-up runs\n")
    rows: list[Row] = []
    failures: list[str] = []
    for bench in benchmarks:
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(bench.run(options))
        except BenchError as exc:
            failures.append(f"{bench.name}: {exc}")
    print(format_table(rows))
    if failures:
        print("\nFAILED:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
