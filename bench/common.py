"""What every benchmark shares: timing commands, the result row, the reference tools."""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # benchmarks reuse the tests' servers (tests.sshd...)
EXAMPLES = ROOT / "examples"
VENV_BIN = ROOT / ".venv" / "bin"

#: Packer phones home for version checks unless told not to; kiln never does.
QUIET_ENV = {"CHECKPOINT_DISABLE": "1"}


class BenchError(Exception):
    """A benchmark could not run (a tool is missing, or a command failed)."""


@dataclass
class Options:
    """Settings every benchmark receives from ``bench/run``."""

    repetitions: int = 10
    warmup: int = 2


@dataclass
class Row:
    """One line of the results table.

    ``kiln`` and ``reference`` are medians (seconds unless ``unit`` says otherwise);
    ``target`` is the highest acceptable ``kiln / reference`` ratio. A row without a
    reference is a plain measurement, held to ``limit`` (an absolute bound) if given.
    The reference is Packer 1.6.6 unless a note names another peer. The table shows the
    values with ``digits`` decimals, and ``missed`` where the target is not met.
    """

    name: str
    kiln: float
    reference: float | None = None
    target: float | None = None
    unit: str = "s"
    notes: list[str] = field(default_factory=list)
    limit: float | None = None
    digits: int = 3
    missed: str = "SLOWER"

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.reference <= 0:
            return None
        return self.kiln / self.reference

    @property
    def on_target(self) -> bool | None:
        ratio = self.ratio
        if ratio is None:
            return None if self.limit is None else self.kiln <= self.limit
        if self.target is None:
            return None
        return ratio <= self.target


@dataclass(frozen=True)
class Benchmark:
    """An entry of the registry: a name, what it measures, and the function that runs it."""

    name: str
    summary: str
    run: Callable[[Options], list[Row]]


def kiln_command() -> list[str]:
    """The ``kiln`` console script of the project's virtual environment."""
    kiln = VENV_BIN / "kiln"
    if not kiln.exists():
        raise BenchError(f"{kiln} is missing: run scripts/bootstrap first")
    return [str(kiln)]


def python_command() -> list[str]:
    """The virtual environment's Python, the one ``kiln`` runs on."""
    python = VENV_BIN / "python"
    if not python.exists():
        raise BenchError(f"{python} is missing: run scripts/bootstrap first")
    return [str(python)]


def packer_command() -> list[str]:
    """Debian's Packer 1.6.6, the reference peer."""
    packer = shutil.which("packer")
    if packer is None:
        raise BenchError("packer is not installed: run scripts/bootstrap (it installs 1.6.6)")
    return [packer]


def build_commands(template: Path) -> list[list[str]]:
    """``kiln build`` and ``packer build`` of ``template``, in that order, no colours."""
    return [
        [*tool, "build", "-color=false", str(template)]
        for tool in (kiln_command(), packer_command())
    ]


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """This process's environment replaced by ``values`` in the block, restored after
    it. For code run in this process, and for ``run_checked``, which puts a command's
    ``env`` on top of this process's environment."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def command_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a command under test: ``env`` on top of this process's, no
    version checks, kiln's crash logs in the temporary folder, not the checkout, and
    its cleanup journals in one of the benchmarks' own, not the user's state folder
    (an interrupted run's journal is no business of the user's ``kiln reap``)."""
    own = {
        "KILN_CRASH_DIR": tempfile.gettempdir(),
        "KILN_STATE_DIR": os.path.join(tempfile.gettempdir(), "kiln-bench-state"),
    }
    return {**own, **os.environ, **QUIET_ENV, **(env or {})}


def run_checked(
    argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command once (``env`` on top of this process's environment); a non-zero
    exit is a BenchError that shows its output."""
    proc = subprocess.run(
        argv, cwd=cwd, env=command_env(env), capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise BenchError(f"`{' '.join(argv)}` exited {proc.returncode}:\n{output}")
    return proc


def median_times(
    works: Sequence[Callable[[], object]],
    options: Options,
    reset: Callable[[], None] | None = None,
) -> list[float]:
    """Median seconds of each of ``works`` over ``options.repetitions`` runs.

    They take turns (a, b, a, b, ...) after ``options.warmup`` rounds, so a change in
    the machine's load affects them alike. ``reset`` runs untimed before every run,
    warm-up runs included, so that no run pays for the one before.
    """
    samples: list[list[float]] = [[] for _ in works]
    for round_ in range(options.warmup + max(1, options.repetitions)):
        for work, times in zip(works, samples, strict=True):
            if reset is not None:
                reset()
            start = time.perf_counter()
            work()
            if round_ >= options.warmup:
                times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in samples]


def median_wall_times(
    commands: Sequence[Sequence[str]],
    options: Options,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    reset: Callable[[], None] | None = None,
) -> list[float]:
    """Median wall time of each command over ``options.repetitions`` runs.

    The commands take turns after ``options.warmup`` rounds, with ``reset`` untimed
    before each run (see :func:`median_times`). Every run must succeed: timing a
    command that fails early would flatter it.
    """
    works = [functools.partial(run_checked, argv, cwd, env) for argv in commands]
    return median_times(works, options, reset)


def tool_versions() -> list[str]:
    """One line per tool the benchmarks compare, for the header of the table."""
    lines = []
    for argv in (kiln_command(), packer_command()):
        try:
            proc = subprocess.run([*argv, "version"], capture_output=True, text=True, timeout=30)
            first = (proc.stdout.strip() or proc.stderr.strip() or "unknown").splitlines()[0]
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            first = f"unavailable ({exc})"
        lines.append(f"{Path(argv[0]).name}: {first}")
    return lines
