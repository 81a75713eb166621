"""``kiln validate`` against ``packer validate`` (1.6.6) on the same example templates.

Target: kiln no slower than Packer (ratio ≤ 1.0). Also measures what kiln imports to
validate, and names any heavy library (network, cloud, SSH, YAML, crypto) that got
onto that path: those belong to build-time code only.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import (
    EXAMPLES,
    BenchError,
    Benchmark,
    Options,
    Row,
    kiln_command,
    median_wall_times,
    packer_command,
    python_command,
    run_checked,
)

from kiln.cli.main import HEAVY_MODULES as HEAVY

TARGET = 1.0


@contextmanager
def _as_is(path: Path) -> Iterator[Path]:
    yield path


Prepare = Callable[[Path], AbstractContextManager[Path]]


def _compare(name: str, template: Path, options: Options, prepare: Prepare = _as_is) -> Row:
    with prepare(template) as path:
        kiln, packer = median_wall_times(
            [[*kiln_command(), "validate", str(path)], [*packer_command(), "validate", str(path)]],
            options,
        )
    return Row(name, kiln, packer, TARGET)


def null_ssh(options: Options) -> list[Row]:
    return [_compare("validate hcl2 null-ssh", EXAMPLES / "null-ssh", options)]


def file_local(options: Options) -> list[Row]:
    return [_compare("validate hcl2 file-local", EXAMPLES / "file-local", options)]


LEGACY_FILE = """{
  "variables": {"greeting": "hello"},
  "builders": [{"type": "file", "content": "{{user `greeting`}}", "target": "out.txt"}],
  "provisioners": [{"type": "shell-local", "inline": ["echo {{build_name}}"]}],
  "post-processors": [[{"type": "checksum", "checksum_types": ["sha256"]}]]
}
"""


@contextmanager
def _legacy_file_template(_: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as tmp:
        path = Path(tmp) / "template.json"
        path.write_text(LEGACY_FILE)
        yield path


def legacy_json(options: Options) -> list[Row]:
    row = _compare("validate json legacy", Path("template.json"), options, _legacy_file_template)
    row.notes.append("a file-builder template, so that the row needs no plugin installed")
    return [row]


@dataclass(frozen=True)
class Import:
    """One line of ``python -X importtime``: a module, its cumulative time, its depth."""

    module: str
    cumulative_us: int
    depth: int  # 1 for a module imported at top level


def parse_importtime(stderr: str) -> list[Import]:
    """The imports ``python -X importtime`` reported on stderr, in its order."""
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        found.append(Import(name.strip(), int(parts[1]), depth))
    return found


def heavy_modules(found: list[Import]) -> list[str]:
    """The imported modules that belong to a heavy library."""
    return sorted({i.module for i in found if i.module.split(".")[0] in HEAVY})


def imports(options: Options) -> list[Row]:
    """Import time of ``kiln validate`` (every module, site included), median of runs."""
    template = EXAMPLES / "null-ssh"
    argv = [*python_command(), "-X", "importtime", "-m", "kiln", "validate", str(template)]
    totals: list[float] = []
    counts: list[int] = []
    heavy: set[str] = set()
    for _ in range(max(1, options.repetitions)):
        found = parse_importtime(run_checked(argv).stderr)
        totals.append(sum(i.cumulative_us for i in found if i.depth == 1) / 1e6)
        counts.append(len(found))
        heavy.update(heavy_modules(found))
    if heavy:
        raise BenchError(f"kiln validate imports heavy modules: {', '.join(sorted(heavy))}")
    bare = median_wall_times([[*python_command(), "-c", "pass"]], options)[0]
    row = Row("kiln validate imports", statistics.median(totals))
    row.notes.append(f"{int(statistics.median(counts))} modules, none of {', '.join(HEAVY)}")
    row.notes.append(f"bare python startup, the floor for any kiln command: {bare:.3f} s")
    return [row]


BENCHMARKS = [
    Benchmark("validate-null-ssh", "kiln vs packer validate, examples/null-ssh", null_ssh),
    Benchmark("validate-file-local", "kiln vs packer validate, examples/file-local", file_local),
    Benchmark("validate-legacy", "kiln vs packer validate, examples/legacy", legacy_json),
    Benchmark("validate-imports", "import time and heavy imports of kiln validate", imports),
]
