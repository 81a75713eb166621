"""Fixtures for the manifest plugin's tests: ``kiln build`` and Packer 1.6.6 run as
subprocesses in a template folder, and what their manifests hold."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from manifest_helpers import Runner, kiln_env
from tests.conftest import run_kiln


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A fresh folder to build in (the manifest's default place)."""
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def write(folder: Path) -> Callable[..., Path]:
    """``write(name=text, ...)``: dedented files in ``folder``; returns the folder."""

    def make(files: dict[str, str] | None = None, **named: str) -> Path:
        for name, text in {**(files or {}), **named}.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return folder

    return make


@pytest.fixture
def kiln_build(tmp_path: Path, folder: Path) -> Runner:
    """Run ``kiln build -color=false ARGS...`` in ``folder`` (or ``cwd``)."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_kiln("build", "-color=false", *args, env=kiln_env(tmp_path), cwd=cwd or folder)

    return run


@pytest.fixture
def packer_build() -> Runner:
    """Run the reference ``packer build`` (1.6.6) in a folder. scripts/bootstrap installs
    it, so a missing binary is a broken test environment, not a reason to skip."""
    binary = shutil.which("packer")
    if binary is None:
        pytest.fail("packer (Debian's 1.6.6) is not installed: run scripts/bootstrap test")

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "build", "-color=false", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            env={"CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
        )

    return run
