"""kiln init, the lock file and plugin loading, against a folder index and a real
pypiserver on loopback, through the real ``kiln`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from scripts.publish_plugins import write_simple_index

from kiln.install.lockfile import LOCK_NAME, installed_folders, read_lock
from tests.conftest import KILN, run_kiln
from tests.indexserver import PypiIndex
from tests.wheels import make_sdist, make_wheel

PLUGIN = """
from kiln.plugins.types import BuilderSpec
from kiln.sdk import Artifact, Builder, Config, hookimpl, option
{imports}

VERSION = "{version}"


class GreetingConfig(Config):
    message: str = option("hello")


class Greeting(Builder):
    config_class = GreetingConfig

    def run(self, ui, hook):
        ui.say(f"{{self.config.message}} from {name} {{VERSION}}{extra}")
        return Artifact("acme.greeting", VERSION, [], {{}}, "a greeting")


@hookimpl
def kiln_builders():
    return [BuilderSpec("{component}", Greeting, "says hello")]
"""


def plugin_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    component: str | None = None,
    uses: str | None = None,
    body: str | None = None,
    extra_files: dict[str, str] | None = None,
) -> Path:
    """A plugin distribution with one builder that says its version (and, with
    ``uses``, the answer of a dependency module's ``answer()``)."""
    package = name.replace("-", "_")
    imports = f"import {uses}" if uses else ""
    extra = f" with {{{uses}.answer()}}" if uses else ""
    source = body or PLUGIN.format(
        imports=imports,
        version=version,
        name=name,
        extra=extra,
        component=component or name.removeprefix("kiln-plugin-"),
    )
    files = {f"{package}/__init__.py": "", f"{package}/plugin.py": source, **(extra_files or {})}
    return make_wheel(
        folder,
        name,
        version,
        requires=requires,
        entry_points={"kiln": {"main": f"{package}.plugin"}},
        files=files,
    )


def library_wheel(folder: Path, name: str, version: str, **kwargs: object) -> Path:
    module = name.replace("-", "_")
    files = {f"{module}/__init__.py": f"def answer():\n    return '{name} {version}'\n"}
    return make_wheel(folder, name, version, files=files, **kwargs)  # type: ignore[arg-type]


@dataclass
class Env:
    """One test's plugin home, cache, template folder and folder index."""

    root: Path
    index_dir: Path
    template: Path
    vars: dict[str, str]

    @property
    def home(self) -> Path:
        return Path(self.vars["KILN_PLUGIN_PATH"])

    @property
    def lock(self) -> Path:
        return self.template / LOCK_NAME

    def publish(self) -> None:
        """(Re)write the folder index over every file written to :meth:`files`."""
        write_simple_index(self.index_dir, sorted(self.files().glob("*")))

    def files(self) -> Path:
        return self.index_dir / "files"

    def require(self, plugins: dict[str, tuple[str, str]]) -> None:
        """Write the template: ``{local name: (source, constraint)}`` plus a build of
        the first plugin's builder (named by its type)."""
        entries = "\n".join(
            f'    {name} = {{ source = "{source}", version = "{constraint}" }}'
            for name, (source, constraint) in plugins.items()
        )
        first = next(iter(plugins.values()))[0].rsplit("/", 1)[-1]
        (self.template / "t.pkr.hcl").write_text(
            f"packer {{\n  required_plugins {{\n{entries}\n  }}\n}}\n\n"
            f'source "{first}" "x" {{}}\n\nbuild {{ sources = ["source.{first}.x"] }}\n'
        )

    def run(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return run_kiln(*args, env={**self.vars, **extra_env}, cwd=self.root)

    def ok(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args, **extra_env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def fails(self, *args: str, **extra_env: str) -> str:
        result = self.run(*args, **extra_env)
        assert result.returncode != 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        return result.stdout + result.stderr

    def locked_versions(self) -> dict[str, str]:
        lock, diags = read_lock(self.lock)
        assert lock is not None, diags
        return {p.source: p.version for p in lock.plugins.values()}

    def uninstall(self) -> None:
        """Remove every installed plugin folder, as on a machine with only the lock."""
        for folder in installed_folders(self.home):
            shutil.rmtree(folder.path)

    def installed(self) -> list[tuple[str, str]]:
        if not self.home.is_dir():
            return []
        return [(f.source, f.version) for f in installed_folders(self.home)]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    index_dir = tmp_path / "index"
    (index_dir / "files").mkdir(parents=True)
    template = tmp_path / "template"
    template.mkdir()
    variables = {
        "KILN_PLUGIN_PATH": str(tmp_path / "home"),
        "KILN_CACHE_DIR": str(tmp_path / "cache"),
        "KILN_CONFIG": str(tmp_path / "config.toml"),
        "KILN_INDEX_URL": (index_dir / "simple").as_uri() + "/",
    }
    return Env(tmp_path, index_dir, template, variables)


GREETING = "github.com/acme/greeting"
GREETING_DIST = "kiln-plugin-acme-greeting"


def greeting(env: Env, *versions: str, **kwargs: object) -> None:
    for version in versions:
        plugin_wheel(env.files(), GREETING_DIST, version, component="greeting", **kwargs)  # type: ignore[arg-type]
    env.publish()


# -- resolution and the lock file -------------------------------------------------------


def test_init_resolves_within_the_constraint_writes_the_lock_and_build_uses_it(
    env: Env,
) -> None:
    library_wheel(env.files(), "greetlib", "1.0")
    library_wheel(env.files(), "greetlib", "2.0")
    greeting(env, "1.0.0", "1.1.0", requires=["greetlib>=1"], uses="greetlib")
    greeting(env, "2.0.0")
    env.require({"greeting": (GREETING, ">= 1.0.0, < 2.0.0")})

    out = env.ok("init", "template").stdout
    assert f"Installed plugin {GREETING} v1.1.0 in" in out
    lock_text = env.lock.read_text()
    assert lock_text.startswith("# This file is maintained automatically by")
    assert env.lock.stat().st_mode & 0o044  # meant to be committed: readable, not 0600
    lock, _ = read_lock(env.lock)
    assert lock is not None
    (plugin,) = lock.plugins.values()
    assert (plugin.version, plugin.constraints, plugin.distribution) == (
        "1.1.0",
        ">= 1.0.0, < 2.0.0",
        GREETING_DIST,
    )
    packages = {p.name: p for p in plugin.packages}
    assert {n: p.version for n, p in packages.items()} == {
        "greetlib": "2.0",
        GREETING_DIST: "1.1.0",
    }
    assert all(
        len(p.sha256) == 64 and p.index == env.vars["KILN_INDEX_URL"] for p in packages.values()
    )

    assert "The configuration is valid." in env.ok("validate", "template").stdout
    built = env.ok("build", "template").stdout
    assert f"hello from {GREETING_DIST} 1.1.0 with greetlib 2.0" in built


def test_the_lock_is_honoured_until_upgrade(env: Env) -> None:
    greeting(env, "1.0.0")
    env.require({"greeting": (GREETING, ">= 1.0")})
    env.ok("init", "template")
    greeting(env, "1.0.1")

    # A second machine: the same lock, nothing installed or cached.
    other = {"KILN_PLUGIN_PATH": str(env.root / "home2"), "KILN_CACHE_DIR": str(env.root / "c2")}
    env.ok("init", "template", **other)
    assert env.locked_versions() == {GREETING: "1.0.0"}
    assert "from kiln-plugin-acme-greeting 1.0.0" in env.ok("build", "template", **other).stdout

    out = env.ok("init", "-upgrade", "template").stdout
    assert f"Installed plugin {GREETING} v1.0.1" in out
    assert env.locked_versions() == {GREETING: "1.0.1"}
    assert "from kiln-plugin-acme-greeting 1.0.1" in env.ok("build", "template").stdout


def test_pre_releases_only_when_a_constraint_names_one(env: Env) -> None:
    greeting(env, "1.0.0", "2.0.0b1")
    env.require({"greeting": (GREETING, ">= 1.0.0")})
    env.ok("init", "template")
    assert env.locked_versions() == {GREETING: "1.0.0"}

    env.require({"greeting": (GREETING, ">= 2.0.0-beta1")})
    env.ok("init", "-upgrade", "template")
    assert env.locked_versions() == {GREETING: "2.0.0b1"}


def test_a_stale_lock_says_to_upgrade(env: Env) -> None:
    greeting(env, "1.0.0", "2.0.0")
    env.require({"greeting": (GREETING, "< 2.0.0")})
    env.ok("init", "template")
    env.require({"greeting": (GREETING, ">= 2.0.0")})

    for command in ("validate", "build", "init"):
        out = env.fails(command, "template")
        assert "does not satisfy" in out and "kiln init -upgrade" in out, (command, out)
    assert "t.pkr.hcl line 3" in env.fails("validate", "template")

    env.ok("init", "-upgrade", "template")
    assert env.locked_versions() == {GREETING: "2.0.0"}


def test_missing_version_lists_what_the_index_has(env: Env) -> None:
    greeting(env, "1.0.0", "1.2.0")
    env.require({"greeting": (GREETING, "= 9.9.9")})
    out = env.fails("init", "template")
    assert "cannot be satisfied" in out and "available versions: 1.2.0, 1.0.0" in out
    assert not env.lock.exists() and env.installed() == []


def test_an_unknown_plugin_names_the_distribution_and_the_index(env: Env) -> None:
    env.publish()
    env.require({"nothing": ("github.com/acme/nothing", ">= 1")})
    out = env.fails("init", "template")
    assert "kiln-plugin-acme-nothing" in out and "no index has a project" in out


def test_dependencies_the_core_provides_are_fixed(env: Env) -> None:
    greeting(env, "1.0.0", requires=["packaging>=20"])
    env.require({"greeting": (GREETING, ">= 1")})
    env.ok("init", "template")
    lock, _ = read_lock(env.lock)
    assert lock is not None
    assert [p.name for p in lock.plugins[GREETING].packages] == [GREETING_DIST]

    greeting(env, "1.1.0", requires=["packaging<1"])
    env.require({"greeting": (GREETING, "= 1.1.0")})
    out = env.fails("init", "-upgrade", "template")
    assert "kiln's own environment provides packaging" in out


def test_sdist_only_and_wrong_platform_are_clear_errors(env: Env) -> None:
    make_sdist(env.files(), GREETING_DIST, "1.0.0")
    make_wheel(env.files(), GREETING_DIST, "1.1.0", tag="cp311-cp311-win_amd64")
    env.publish()
    env.require({"greeting": (GREETING, ">= 1")})
    out = env.fails("init", "template")
    assert "1.0.0 has only a source distribution" in out
    assert "1.1.0 has no wheel for this platform (cp311-cp311-win_amd64)" in out


# -- install -----------------------------------------------------------------------------


def test_offline_reinit_from_the_cache(env: Env) -> None:
    library_wheel(env.files(), "greetlib", "1.0")
    greeting(env, "1.0.0", requires=["greetlib"], uses="greetlib")
    env.require({"greeting": (GREETING, ">= 1")})
    env.ok("init", "template")
    env.uninstall()

    # No index at all: the lock pins every file and the cache has them.
    out = env.ok("init", "template", KILN_INDEX_URL="http://127.0.0.1:9/simple/").stdout
    assert f"Installed plugin {GREETING} v1.0.0" in out
    assert "with greetlib 1.0" in env.ok("build", "template").stdout

    # Warm: everything in place, nothing to say.
    assert env.ok("init", "template", KILN_INDEX_URL="http://127.0.0.1:9/simple/").stdout == ""


def test_a_tampered_wheel_is_refused_and_nothing_is_installed(
    env: Env, pypi_index: PypiIndex
) -> None:
    name = "kiln-plugin-acme-tamper"
    wheel = plugin_wheel(pypi_index.packages, name, "1.0.0", component="tamper")
    env.vars["KILN_INDEX_URL"] = pypi_index.url
    env.require({"tamper": ("github.com/acme/tamper", ">= 1")})
    env.ok("init", "template")
    before = env.lock.read_text()

    # The same file name, other content, and a clean machine.
    wheel.unlink()
    plugin_wheel(pypi_index.packages, name, "1.0.0", component="tamper", extra_files={"x": "evil"})
    other = {"KILN_PLUGIN_PATH": str(env.root / "home2"), "KILN_CACHE_DIR": str(env.root / "c2")}
    out = env.fails("init", "template", **other)
    assert "does not match the hash in the lock file" in out and "tampered" in out
    assert not (env.root / "home2").exists() or installed_folders(env.root / "home2") == []
    assert env.lock.read_text() == before
    assert not list((env.root / "c2").rglob("*.whl"))  # the refused file was not cached


def test_a_damaged_cached_wheel_is_refused(env: Env) -> None:
    greeting(env, "1.0.0")
    env.require({"greeting": (GREETING, ">= 1")})
    env.ok("init", "template")
    env.uninstall()
    (cached,) = Path(env.vars["KILN_CACHE_DIR"]).rglob("*.whl")
    cached.write_bytes(cached.read_bytes() + b"tampered")
    out = env.fails("init", "template")
    assert "does not match the hash in the lock file" in out and "kiln init -upgrade" in out
    assert env.installed() == []


def test_a_republished_pinned_file_is_refused_when_resolving_again(env: Env) -> None:
    library_wheel(env.files(), "greetlib", "1.0")
    greeting(env, "1.0.0", requires=["greetlib"], uses="greetlib")
    env.require({"greeting": (GREETING, ">= 1")})
    env.ok("init", "template")
    before = env.lock.read_text()
    # greetlib 1.0 re-published with other content; a second plugin makes init resolve.
    library_wheel(env.files(), "greetlib", "1.0", requires_python=">=3")
    plugin_wheel(env.files(), "kiln-plugin-acme-other", "1.0.0", component="other")
    env.publish()
    env.require({"greeting": (GREETING, ">= 1"), "other": ("github.com/acme/other", ">= 1")})
    out = env.fails("init", "template")
    assert "greetlib-1.0-py3-none-any.whl" in out and "does not match the hash" in out
    assert env.lock.read_text() == before


def test_an_unreachable_index_is_a_clear_error_and_nothing_is_half_installed(env: Env) -> None:
    env.require({"greeting": (GREETING, ">= 1")})
    out = env.fails("init", "template", KILN_INDEX_URL="http://127.0.0.1:9/simple/")
    assert "cannot reach the package index" in out.lower()
    assert not env.lock.exists() and env.installed() == []


def test_archive_members_cannot_escape(env: Env) -> None:
    greeting(env, "1.0.0", extra_files={"../../escaped.py": "boom"})
    env.require({"greeting": (GREETING, ">= 1")})
    out = env.fails("init", "template")
    assert "outside the plugin folder" in out
    assert not list(env.root.rglob("escaped.py")) and env.installed() == []


def served_plugin(env: Env, index: PypiIndex, name: str, version: str, constraint: str) -> None:
    """Serve plugin kiln-plugin-acme-NAME VERSION, which uses library NAMElib 1.0, from
    ``index``, and require it in the template with ``constraint``."""
    library_wheel(index.packages, f"{name}lib", "1.0")
    plugin_wheel(
        index.packages,
        f"kiln-plugin-acme-{name}",
        version,
        component=name,
        requires=[f"{name}lib>=1"],
        uses=f"{name}lib",
    )
    env.vars["KILN_INDEX_URL"] = index.url
    env.require({name: (f"github.com/acme/{name}", constraint)})


def test_concurrent_inits_agree(env: Env, pypi_index: PypiIndex) -> None:
    served_plugin(env, pypi_index, "concurrent", "1.0.0", ">= 1")
    procs = [
        subprocess.Popen(
            [*KILN, "init", "template"],
            cwd=env.root,
            env={**os.environ, **env.vars},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    installs = [out for _, out, _ in results if "Installed plugin" in out]
    assert len(installs) == 1, results  # one did the work; the others found it done
    assert env.installed() == [("github.com/acme/concurrent", "1.0.0")]
    assert not any((env.home / ".tmp").iterdir())
    assert "with concurrentlib 1.0" in env.ok("build", "template").stdout


def test_a_plugin_that_fails_to_import_is_named(env: Env) -> None:
    body = "raise ImportError('no module named greetlib_native')\n"
    plugin_wheel(env.files(), "kiln-plugin-acme-broken", "1.0.0", body=body)
    env.publish()
    env.require({"broken": ("github.com/acme/broken", ">= 1")})
    env.ok("init", "template")
    out = env.fails("validate", "template")
    assert 'The plugin "kiln-plugin-acme-broken" (version 1.0.0) failed to load' in out
    assert "greetlib_native" in out


# -- loading -----------------------------------------------------------------------------


def test_validate_and_build_say_to_run_init(env: Env) -> None:
    greeting(env, "1.0.0")
    env.require({"greeting": (GREETING, ">= 1")})
    out = env.fails("validate", "template")
    assert "not in the lock file" in out and "kiln init" in out and "line 3" in out

    env.ok("init", "template")
    env.uninstall()
    out = env.fails("build", "template")
    assert "is locked but not installed" in out and "Run 'kiln init'" in out


def test_the_lock_wins_over_the_environment(env: Env) -> None:
    greeting(env, "1.0.0")
    env.require({"greeting": (GREETING, ">= 1")})
    env.ok("init", "template")
    # The plugin's 0.9.0 installed in the environment (as an editable install would be).
    site = env.root / "site"
    wheel = plugin_wheel(env.root / "w", GREETING_DIST, "0.9.0", component="greeting")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    pythonpath = {"PYTHONPATH": str(site)}
    assert "1.0.0" in env.ok("build", "template", **pythonpath).stdout

    # Without a lock entry, the environment's install serves a template that asks for it.
    env.lock.unlink()
    env.require({"greeting": (GREETING, "< 1")})
    assert "0.9.0" in env.ok("build", "template", **pythonpath).stdout


def test_a_broken_lock_file_names_its_line(env: Env) -> None:
    greeting(env, "1.0.0")
    env.require({"greeting": (GREETING, ">= 1")})
    env.ok("init", "template")
    text = env.lock.read_text().replace('  version      = "1.0.0"\n', '  versoin = "1.0.0"\n')
    env.lock.write_text(text)
    out = env.fails("validate", "template")
    assert f"{LOCK_NAME} line 5" in out and "versoin" in out


# -- kiln plugins ------------------------------------------------------------------------


def test_plugins_install_installed_required_and_remove(env: Env) -> None:
    greeting(env, "1.0.0", "1.1.0")
    out = env.ok("plugins", "install", GREETING, "v1.0.0").stdout
    assert f"Installed plugin {GREETING} v1.0.0" in out
    env.ok("plugins", "install", GREETING)
    assert env.installed() == [(GREETING, "1.0.0"), (GREETING, "1.1.0")]
    listing = env.ok("plugins", "installed").stdout
    assert f"{GREETING} 1.1.0 " in listing
    rows = [line.split() for line in listing.splitlines()]
    assert ["builder", "greeting", "kiln-plugin-acme-greeting", "1.1.0"] in rows

    # Installed without a lock: a template without a lock entry uses the newest that fits.
    (env.template / "t.pkr.hcl").write_text(
        'source "greeting" "x" {}\nbuild { sources = ["source.greeting.x"] }\n'
    )
    assert "1.1.0" in env.ok("build", "template").stdout
    env.require({"greeting": (GREETING, "< 1.1")})
    assert "1.0.0" in env.ok("build", "template").stdout

    required = env.ok("plugins", "required", "template").stdout
    assert "greeting  github.com/acme/greeting  < 1.1" in required
    assert "not locked: run 'kiln init'" in required

    removed = env.ok("plugins", "remove", GREETING, "1.0.0").stdout
    assert "1.0.0-" in removed
    assert env.installed() == [(GREETING, "1.1.0")]
    env.ok("plugins", "remove", GREETING)
    assert env.installed() == []
    assert "is not installed" in env.fails("plugins", "remove", GREETING)
    assert "not a plugin source" in env.fails("plugins", "install", "acme/greeting")


def test_init_on_a_template_without_requirements(env: Env) -> None:
    (env.template / "t.pkr.hcl").write_text(
        'source "null" "x" { communicator = "none" }\nbuild { sources = ["source.null.x"] }\n'
    )
    assert "No plugins requirement found" in env.ok("init", "template").stdout
    assert not env.lock.exists()


def test_index_per_host_from_the_config_file(env: Env, tmp_path: Path) -> None:
    greeting(env, "1.0.0")
    url = env.vars.pop("KILN_INDEX_URL")
    Path(env.vars["KILN_CONFIG"]).write_text(
        textwrap.dedent(
            f"""
            index_url = "http://127.0.0.1:9/simple/"
            [hosts."github.com"]
            index_url = "{url}"
            """
        )
    )
    env.require({"greeting": (GREETING, ">= 1")})
    env.ok("init", "template")
    lock, _ = read_lock(env.lock)
    assert lock is not None and lock.plugins[GREETING].packages[0].index == url
    # -index-url wins over the config file.
    out = env.fails("init", "-upgrade", "-index-url", "http://127.0.0.1:9/simple/", "template")
    assert "127.0.0.1:9" in out


def test_full_flow_against_pypiserver(env: Env, pypi_index: PypiIndex) -> None:
    served_plugin(env, pypi_index, "flow", "0.3.0", "~> 0.3")
    env.ok("init", "template")
    assert env.locked_versions() == {"github.com/acme/flow": "0.3.0"}
    assert "from kiln-plugin-acme-flow 0.3.0 with flowlib 1.0" in env.ok("build", "template").stdout


def test_downloads_show_a_progress_bar_on_a_terminal_only(env: Env) -> None:
    import pty

    greeting(env, "1.0.0", extra_files={"kiln_plugin_acme_greeting/blob.bin": "x" * 200_000})
    env.require({"greeting": (GREETING, ">= 1")})
    wheel = f"{GREETING_DIST.replace('-', '_')}-1.0.0-py3-none-any.whl"

    def fresh() -> None:
        for path in (env.home, Path(env.vars["KILN_CACHE_DIR"]), env.lock):
            subprocess.run(["rm", "-rf", str(path)], check=True)

    fresh()
    piped = env.ok("init", "template")
    assert wheel not in piped.stderr  # no bar into a pipe

    fresh()
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [*KILN, "init", "template"],
        cwd=env.root,
        env={**os.environ, **env.vars, "COLUMNS": "120"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=child,
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: kiln is done
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0, seen.decode(errors="replace")
    assert f"  {wheel}".encode() in seen  # the bar's label, drawn on the terminal


def test_installed_folders_are_ordered_by_source_then_version_then_path(tmp_path: Path) -> None:
    """Versions compare as versions (1.10 after 1.9); a source installed at one version
    only is ordered without importing packaging, which costs every command 1.5 ms."""
    import json
    import subprocess
    import sys

    def install(source: str, version: str, suffix: str) -> None:
        folder = tmp_path / source / f"{version}-{suffix}"
        folder.mkdir(parents=True)
        marker = {"source": source, "version": version, "distribution": "d"}
        (folder / "kiln-plugin.json").write_text(json.dumps(marker))

    install("example.com/a/x", "1.10.0", "aa")
    install("example.com/a/x", "1.9.0", "bb")
    install("example.com/a/y", "2.0.0", "dd")
    install("example.com/a/y", "2.0.0", "cc")
    found = [(f.source, f.version, f.path.name) for f in installed_folders(tmp_path)]
    assert found == [
        ("example.com/a/x", "1.9.0", "1.9.0-bb"),
        ("example.com/a/x", "1.10.0", "1.10.0-aa"),
        ("example.com/a/y", "2.0.0", "2.0.0-cc"),
        ("example.com/a/y", "2.0.0", "2.0.0-dd"),
    ]
    code = (
        "import sys; from pathlib import Path; from kiln.install.lockfile import installed_folders"
        f"\ninstalled_folders(Path({str(tmp_path)!r}))"
        "\nprint('packaging.version' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True"]  # x has two versions
    (tmp_path / "example.com" / "a" / "x" / "1.9.0-bb" / "kiln-plugin.json").unlink()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False"]
