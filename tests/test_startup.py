"""``kiln validate`` stays light: no heavy library is imported on its path.

Network, cloud, SSH, Docker, YAML and crypto libraries belong to the code that builds
(or to the functions that need them, imported when called). This is checked as a
behaviour — which modules a real ``python -m kiln validate`` imports — not as a timing;
``bench/run validate-imports`` measures the time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.cli.main import HEAVY_MODULES as HEAVY

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


HCL2_EXAMPLES = sorted(p.name for p in EXAMPLES.iterdir() if any(p.glob("*.pkr.hcl")))


def imported_modules(stderr: str) -> list[str]:
    """The module names ``python -X importtime`` reported on stderr."""
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[-1].strip()
            if name != "imported package":
                names.append(name)
    return names


def run_validate(
    template: Path, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KILN_CRASH_DIR": str(tmp_path), **(env or {})}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kiln", "validate", str(template)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_there_are_examples_to_check() -> None:
    assert "docker-busybox" in HCL2_EXAMPLES
    assert "null-ssh" in HCL2_EXAMPLES


@pytest.mark.parametrize("example", HCL2_EXAMPLES)
def test_validate_imports_nothing_heavy(example: str, tmp_path: Path) -> None:
    # A copy without the lock file scripts/main may have left: the test sees the
    # plugins of this environment (the repository's, installed editable), not a plugin
    # home it cannot see.
    copy = tmp_path / example
    shutil.copytree(EXAMPLES / example, copy, ignore=shutil.ignore_patterns(".kiln.lock.hcl"))
    proc = run_validate(copy, tmp_path)
    assert "The configuration is valid." in proc.stdout, proc.stdout + proc.stderr
    modules = imported_modules(proc.stderr)
    # (modules imported by importlib.import_module, like kiln.cli.cmd_validate, are not listed)
    assert "kiln.hcl.loader" in modules  # the output was read, and is kiln's
    heavy = sorted({m for m in modules if m.split(".")[0] in HEAVY})
    assert heavy == [], f"kiln validate {example} imports heavy modules: {heavy}"


#: standard modules validate has no use for, a millisecond or more of start-up each:
#: importlib.metadata's email parser (plugins' names and versions are read from their
#: metadata's header lines, a plugin's own __version__ when first asked for), logging
#: (a step's failure is logged when it happens), uuid and platform (the temporary
#: names a build makes)
BUILD_ONLY = ["email.parser", "logging", "platform", "uuid"]


def test_validate_imports_no_module_only_a_build_needs(tmp_path: Path) -> None:
    copy = tmp_path / "null-ssh"
    shutil.copytree(EXAMPLES / "null-ssh", copy, ignore=shutil.ignore_patterns(".kiln.lock.hcl"))
    proc = run_validate(copy, tmp_path)
    assert "The configuration is valid." in proc.stdout, proc.stdout + proc.stderr
    modules = imported_modules(proc.stderr)
    assert "kiln_plugin_manifest.post_processor" in modules  # the plugins were loaded
    assert sorted(set(BUILD_ONLY) & set(modules)) == []


def test_validate_legacy_json_imports_nothing_heavy(tmp_path: Path) -> None:
    proc = run_validate(EXAMPLES / "legacy" / "template.json", tmp_path)
    assert "The configuration is valid." in proc.stdout, proc.stdout + proc.stderr
    modules = imported_modules(proc.stderr)
    heavy = sorted({m for m in modules if m.split(".")[0] in HEAVY})
    assert heavy == [], f"kiln validate legacy/template.json imports heavy modules: {heavy}"


def parser_modules(modules: list[str]) -> list[str]:
    """The modules of the HCL parser (Lark, the ``regex`` it imports, python-hcl2)."""
    return sorted({m for m in modules if m.split(".")[0] in ("lark", "regex", "hcl2")})


def test_validate_with_a_warm_parse_cache_imports_no_parser(tmp_path: Path) -> None:
    """A template whose parse is cached is read back as kiln's own tree types: Lark
    (about 15 ms to import, with ``regex``) and python-hcl2 stay out of the process."""
    copy = tmp_path / "null-ssh"
    shutil.copytree(EXAMPLES / "null-ssh", copy, ignore=shutil.ignore_patterns(".kiln.lock.hcl"))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "KILN_PARSE_CACHE": "1"}
    cold = run_validate(copy, tmp_path, env)
    assert "The configuration is valid." in cold.stdout, cold.stdout + cold.stderr
    assert "lark" in parser_modules(imported_modules(cold.stderr))  # the check sees it
    warm = run_validate(copy, tmp_path, env)
    assert "The configuration is valid." in warm.stdout, warm.stdout + warm.stderr
    modules = imported_modules(warm.stderr)
    assert "kiln.hcl.syntax" in modules
    assert parser_modules(modules) == []


def test_validate_legacy_json_imports_no_parser(tmp_path: Path) -> None:
    """A legacy JSON template has no HCL to parse: not even a cold cache imports Lark."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = run_validate(EXAMPLES / "legacy" / "template.json", tmp_path, env)
    assert "The configuration is valid." in proc.stdout, proc.stdout + proc.stderr
    assert parser_modules(imported_modules(proc.stderr)) == []


def test_validate_with_a_warm_plugin_cache_imports_no_importlib_metadata(tmp_path: Path) -> None:
    """The plugins' entry points found are remembered: while the installed distributions
    stay the same, a command neither imports importlib.metadata (about 11 ms, with the
    email package, zipfile and csv) nor scans every distribution (about 4 ms)."""
    copy = tmp_path / "null-ssh"
    shutil.copytree(EXAMPLES / "null-ssh", copy, ignore=shutil.ignore_patterns(".kiln.lock.hcl"))
    # Made before the first run: ``python -m`` puts the working folder (tmp_path) on
    # sys.path, whose time is part of the cache's key.
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {"KILN_CACHE_DIR": str(cache)}
    cold = run_validate(copy, tmp_path, env)
    assert "The configuration is valid." in cold.stdout, cold.stdout + cold.stderr
    assert "importlib.metadata" in imported_modules(cold.stderr)  # the check sees it
    warm = run_validate(copy, tmp_path, env)
    assert "The configuration is valid." in warm.stdout, warm.stdout + warm.stderr
    modules = imported_modules(warm.stderr)
    assert "kiln_plugin_manifest.post_processor" in modules  # the plugins were loaded
    assert "importlib.metadata" not in modules


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """The parser recognises an import of a heavy module (here yaml, which kiln depends on)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import yaml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "yaml" in imported_modules(proc.stderr)


MADE_CONFIGS = """
import sys
from kiln.cli.main import main
from kiln.sdk.config import Config

code = main(["validate", sys.argv[1]])
found, todo = [], [Config]
while todo:
    cls = todo.pop()
    todo += cls.__subclasses__()
    if "__dataclass_fields__" in cls.__dict__:
        found.append(cls.__name__)
print(code, " ".join(sorted(found)))
"""


def test_validate_makes_dataclasses_only_of_the_configurations_it_uses(tmp_path: Path) -> None:
    """Every installed component's Config class is loaded, but only those the template
    uses (and their bases) become dataclasses: that work is done on first use."""
    copy = tmp_path / "null-ssh"
    shutil.copytree(EXAMPLES / "null-ssh", copy, ignore=shutil.ignore_patterns(".kiln.lock.hcl"))
    proc = subprocess.run(
        [sys.executable, "-c", MADE_CONFIGS, str(copy)],
        cwd=tmp_path,
        env={**os.environ, "KILN_CRASH_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    code, _, made = proc.stdout.strip().rpartition("\n")[-1].partition(" ")
    assert code == "0", proc.stdout + proc.stderr
    # the null source (an SSH communicator), its shell and shell-local provisioners
    assert set(made.split()) == {
        "CommunicatorConfig",
        "NullConfig",
        "ShellCommonConfig",
        "ShellConfig",
        "ShellLocalConfig",
    }


def test_the_ssh_communicator_loads_paramiko_without_invoke() -> None:
    """paramiko imports invoke only for ssh_config files, which kiln never reads: the
    communicator keeps it out, and it still imports normally afterwards."""
    script = (
        "import sys\n"
        "import kiln.communicator.ssh\n"
        "print('paramiko' in sys.modules, 'invoke' in sys.modules)\n"
        "import invoke\n"
        "print(invoke.__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.split() == ["True", "False", "invoke"], proc.stdout + proc.stderr


EARLY_IMPORT = """
import sys, threading
from kiln.sdk import CommunicatorConfig, Context, StepConnect

StepConnect(CommunicatorConfig(communicator="none"), ctx=Context())
print("kiln.communicator.ssh" in sys.modules, threading.active_count())
StepConnect(CommunicatorConfig(ssh_username="u"), ctx=Context())
print([t.name for t in threading.enumerate() if t.name.startswith("import ")])
for thread in threading.enumerate():
    if thread is not threading.current_thread():
        thread.join()
print("kiln.communicator.ssh" in sys.modules, "paramiko" in sys.modules)
"""


def test_a_builder_connecting_over_ssh_imports_paramiko_while_its_first_steps_run() -> None:
    """StepConnect starts the SSH communicator's import (paramiko, cryptography) in a
    thread when the builder lists its steps, so that it overlaps the steps before it
    (an instance launching); a builder that does not connect imports nothing."""
    proc = subprocess.run(
        [sys.executable, "-c", EARLY_IMPORT], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.splitlines() == [
        "False 1",
        "['import kiln.communicator.ssh']",
        "True True",
    ], proc.stdout + proc.stderr
