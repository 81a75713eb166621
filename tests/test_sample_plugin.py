"""The sample third-party plugin (tests/sample-plugin), end to end: built into a wheel
by hatchling, served by pypiserver, resolved and locked by ``kiln init``, and run by
``kiln build`` over SSH to a real sshd on loopback, through the real ``kiln`` command.

The sample's own unit tests (tests/sample-plugin/tests) are collected by the root
pytest run like any other test; its conftest.py puts its ``src`` on sys.path.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiln.install.lockfile import LOCK_NAME, read_lock
from tests.conftest import run_kiln
from tests.indexserver import PypiIndex
from tests.sshd import SSHServer

SAMPLE = Path(__file__).parent / "sample-plugin"
SOURCE = "github.com/acme/greeting"
DIST = "kiln-plugin-acme-greeting"
PACKAGE = "kiln_plugin_acme_greeting"
WHEEL_NAME = f"{PACKAGE}-1.0.0-py3-none-any.whl"

REQUIRED = f"""
packer {{
  required_plugins {{
    greeting = {{
      source  = "{SOURCE}"
      version = ">= 1.0"
    }}
  }}
}}
"""


@pytest.fixture(scope="session")
def sample_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample built as its author would: ``pip wheel`` over hatchling, no network."""
    out = tmp_path_factory.mktemp("sample-wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            str(SAMPLE),
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


@dataclass
class Project:
    """A template folder using the sample plugin, its plugin home, cache and index."""

    root: Path
    template: Path
    vars: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_kiln(*args, env=self.vars, cwd=self.root)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    sample_wheel: Path,
    pypi_index: PypiIndex,
    sshd: SSHServer,
) -> Project:
    """The wheel published on pypiserver and a template that requires it, after
    ``kiln init``: the tests below share one plugin home, as one user's machine would."""
    shutil.copy(sample_wheel, pypi_index.packages / sample_wheel.name)
    root = tmp_path_factory.mktemp("sample-project")
    template = root / "template"
    template.mkdir()
    (template / "build.pkr.hcl").write_text(
        REQUIRED
        + sshd.null_source("machine")
        + f"""
build {{
  sources = ["source.null.machine"]

  provisioner "greeting" {{
    message     = "hello from acme"
    uppercase   = true
    destination = "{root / "greeting.txt"}"
  }}

  post-processor "greeting-file" {{
    output  = "{root / "after.txt"}"
    message = "built with acme"
  }}
}}
"""
    )
    variables = {
        "KILN_PLUGIN_PATH": str(root / "home"),
        "KILN_CACHE_DIR": str(root / "cache"),
        "KILN_CONFIG": str(root / "config.toml"),
        "KILN_INDEX_URL": pypi_index.url,
    }
    project = Project(root, template, variables)
    out = project.ok("init", "template")
    assert f"Installed plugin {SOURCE} v1.0.0" in out
    return project


def test_the_sample_builds_into_a_pure_python_wheel_with_a_kiln_entry_point(
    sample_wheel: Path,
) -> None:
    assert sample_wheel.name == WHEEL_NAME
    with zipfile.ZipFile(sample_wheel) as wheel:
        entry_points = wheel.read(f"{PACKAGE}-1.0.0.dist-info/entry_points.txt")
        metadata = wheel.read(f"{PACKAGE}-1.0.0.dist-info/METADATA").decode()
    assert entry_points.decode().split() == ["[kiln]", "greeting", "=", f"{PACKAGE}.plugin"]
    assert "Requires-Dist: kiln>=0.1" in metadata.splitlines()


def test_init_locks_the_built_wheel_by_its_sha256(project: Project, sample_wheel: Path) -> None:
    lock, diags = read_lock(project.template / LOCK_NAME)
    assert lock is not None, diags
    plugin = lock.plugins[SOURCE]
    assert (plugin.version, plugin.distribution) == ("1.0.0", DIST)
    # kiln itself comes from kiln's environment: the closure is the plugin alone.
    (package,) = plugin.packages
    assert (package.name, package.version, package.file) == (DIST, "1.0.0", WHEEL_NAME)
    assert package.sha256 == hashlib.sha256(sample_wheel.read_bytes()).hexdigest()
    assert package.index == project.vars["KILN_INDEX_URL"]


def test_validate_accepts_the_plugins_components(project: Project) -> None:
    assert "The configuration is valid." in project.ok("validate", "template")


def test_build_runs_the_provisioner_over_ssh_and_the_post_processor(project: Project) -> None:
    out = project.ok("build", "-color=false", "template")
    assert "==> null.machine: Greeting the machine..." in out
    assert "    null.machine: HELLO FROM ACME" in out
    assert (project.root / "greeting.txt").read_text() == "HELLO FROM ACME\n"
    assert f"Writing the greeting to {project.root / 'after.txt'}" in out
    null_artifact = "fnoeding.null: Did not export anything. This is the null builder"
    assert (project.root / "after.txt").read_text() == f"built with acme\n{null_artifact}\n"
    assert "Build 'null.machine' finished" in out


def test_plugins_installed_names_the_distribution_of_each_component(project: Project) -> None:
    out = project.ok("plugins", "installed")
    lines = [line.split() for line in out.splitlines()]
    assert lines[0][:2] == [SOURCE, "1.0.0"]
    assert ["provisioner", "greeting", DIST, "1.0.0"] in lines
    assert ["post-processor", "greeting-file", DIST, "1.0.0"] in lines


def test_a_misspelt_option_is_an_error_at_its_line_with_a_suggestion(project: Project) -> None:
    # Another checkout of a template with the same lock file, on the same machine.
    other = project.root / "misspelt"
    other.mkdir(exist_ok=True)
    shutil.copy(project.template / LOCK_NAME, other / LOCK_NAME)
    (other / "build.pkr.hcl").write_text(
        REQUIRED
        + """
source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "greeting" {
    mesage = "x"
  }
}
"""
    )
    result = project.run("validate", "misspelt")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Unsupported argument" in result.stderr
    assert 'Did you mean "message"?' in result.stderr
    assert "build.pkr.hcl line 19" in result.stderr
