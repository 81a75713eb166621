"""Shared fixtures: the reference Packer, running kiln's CLI in-process, template folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiln.cli.main import main
from kiln.ui.redact import clear_secrets

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Result:
    code: int
    out: str
    err: str


#: the real ``kiln`` command, as a user runs it
KILN = [sys.executable, "-m", "kiln"]


def run_kiln(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``kiln ARGS...`` in a subprocess (``env`` on top of this environment)."""
    return subprocess.run(
        [*KILN, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def kiln(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``kiln ARGS...`` in-process and capture its exit code and output."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True)
def _fresh_secrets() -> None:
    clear_secrets()


@pytest.fixture
def packer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the reference Packer 1.6.6; it is installed by scripts/bootstrap, so a missing
    binary is a broken test environment, not a reason to skip."""
    binary = shutil.which("packer")
    if binary is None:
        pytest.fail("packer (Debian's 1.6.6) is not installed: run scripts/bootstrap test")
    workdir = tmp_path_factory.mktemp("packer-cwd")  # Packer drops crash.log files in its cwd

    def run(
        *args: str,
        cwd: Path | None = None,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *args],
            cwd=cwd or workdir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={"CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin", **(env or {})},
        )

    return run


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write dedented files into a fresh folder: ``write(name=text, ...)`` → the folder."""

    def make(files: dict[str, str] | None = None, **named: str) -> Path:
        for name, text in {**(files or {}), **named}.items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip("\n"))
        return tmp_path

    return make
