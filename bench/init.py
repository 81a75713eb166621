"""``kiln init`` of the repository's plugins from a loopback index, against ``pip``.

Every plugin under ``plugins/`` is published (``scripts/publish-plugins``, which fetches
their third-party dependencies too: botocore, ansible-core, paramiko...) into a folder
served by pypiserver on loopback, and a template requires them all.

- cold: no lock file, an empty download cache and an empty plugin home; kiln resolves,
  downloads, verifies and installs. The peer is ``pip install --no-deps --target`` of
  the very wheels kiln locked, from the same index, with pip's cache off: pip gets the
  list handed to it and resolves nothing. Target: ≤ 0.5 of pip's time.
- warm: the lock written, everything installed and cached. Target: ≤ 0.3 s.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from common import (
    ROOT,
    BenchError,
    Benchmark,
    Options,
    Row,
    kiln_command,
    python_command,
    run_checked,
)
from tests.indexserver import pypiserver_index

from kiln.install.lockfile import LOCK_NAME, read_lock

COLD_TARGET = 0.5
WARM_LIMIT = 0.3


def _plugins() -> list[str]:
    """The plugin types of the repository's distributions (kiln-plugin-TYPE)."""
    names = []
    for project in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        name = tomllib.loads(project.read_text())["project"]["name"]
        names.append(name.removeprefix("kiln-plugin-"))
    if not names:
        raise BenchError("plugins/ holds no plugin distribution to install")
    return names


def _template(folder: Path, plugins: list[str]) -> Path:
    entries = "\n".join(
        f'    {name} = {{ source = "github.com/hashicorp/{name}", version = ">= 0" }}'
        for name in plugins
    )
    folder.mkdir()
    (folder / "plugins.pkr.hcl").write_text(
        f"packer {{\n  required_plugins {{\n{entries}\n  }}\n}}\n"
    )
    return folder


def _timed(command: list[str], env: dict[str, str], reset: Callable[[], None]) -> float:
    """Wall time of one checked run of ``command``, after an untimed ``reset``."""
    reset()
    start = time.perf_counter()
    run_checked(command, env=env)
    return time.perf_counter() - start


def init_benchmarks(options: Options) -> list[Row]:
    plugins = _plugins()
    with tempfile.TemporaryDirectory(prefix="kiln-bench-init-") as tmp:
        root = Path(tmp)
        subprocess.run(
            [str(ROOT / "scripts" / "publish-plugins"), str(root / "index")],
            check=True,
            capture_output=True,
        )
        template = _template(root / "template", plugins)
        home, cache, target = root / "home", root / "cache", root / "target"
        with pypiserver_index(root / "index" / "files") as url:
            env = {
                "KILN_PLUGIN_PATH": str(home),
                "KILN_CACHE_DIR": str(cache),
                "KILN_CONFIG": str(root / "none.toml"),
                "KILN_INDEX_URL": url,
            }
            kiln = [*kiln_command(), "init", str(template)]

            def cold() -> None:
                for path in (home, cache):
                    shutil.rmtree(path, ignore_errors=True)
                (template / LOCK_NAME).unlink(missing_ok=True)

            def fresh_target() -> None:
                shutil.rmtree(target, ignore_errors=True)

            _timed(kiln, env, cold)  # writes the lock pip's list comes from
            lock, _ = read_lock(template / LOCK_NAME)
            assert lock is not None
            pins = sorted(
                {
                    f"{p.name}=={p.version}"
                    for plugin in lock.plugins.values()
                    for p in plugin.packages
                }
            )
            pip = [
                *python_command(),
                *[
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-deps",
                    "--no-cache-dir",
                    "--disable-pip-version-check",
                ],
                "--target",
                str(target),
                "--index-url",
                url,
                *pins,
            ]
            for _ in range(options.warmup):
                _timed(pip, env, fresh_target)
            kiln_cold, pip_cold = [], []
            for _ in range(max(1, options.repetitions)):
                kiln_cold.append(_timed(kiln, env, cold))
                pip_cold.append(_timed(pip, env, fresh_target))
            warm = [_timed(kiln, env, lambda: None) for _ in range(max(3, options.repetitions))]
    names = ", ".join(plugins)
    cold_row = Row(
        "init cold (vs pip)", statistics.median(kiln_cold), statistics.median(pip_cold), COLD_TARGET
    )
    cold_row.notes.append(
        f"peer: pip install --no-deps --target of the {len(pins)} locked wheels (pip also "
        "byte-compiles them; kiln leaves that to the first import, see docs/plugins.md)"
    )
    cold_row.notes.append(f"plugins: {names}")
    warm_row = Row("init warm (locked, cached)", statistics.median(warm), limit=WARM_LIMIT)
    warm_row.notes.append(f"absolute target ≤ {WARM_LIMIT} s")
    return [cold_row, warm_row]


BENCHMARKS = [
    Benchmark(
        "init",
        "kiln init of the repository's plugins from a loopback index: cold vs pip, and warm",
        init_benchmarks,
    ),
]
