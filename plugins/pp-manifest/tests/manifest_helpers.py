"""Helpers the manifest tests share (a module of its own: ``conftest`` names clash
across plugins)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import KILN

Runner = Callable[..., subprocess.CompletedProcess[str]]


def kiln_command(*args: str) -> list[str]:
    return [*KILN, "build", "-color=false", *args]


def kiln_env(tmp_path: Path) -> dict[str, str]:
    # parse-tree cache entries go to a throwaway folder, not ~/.cache
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``proc``, asserting it succeeded (its output shown when not)."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def names(document: dict[str, Any]) -> list[str]:
    return [build["name"] for build in document["builds"]]
