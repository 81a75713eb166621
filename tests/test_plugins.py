"""The plugin host: built-ins, entry points from real distributions, errors and conflicts."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.plugins.manager import PluginError, make_manager

PLUGIN_MODULE = '''
from kiln.sdk import (
    Artifact, Builder, BuilderSpec, Config, DatasourceSpec, Datasource, PostProcessor,
    PostProcessorSpec, Provisioner, ProvisionerSpec, hookimpl, option,
)

class EchoConfig(Config):
    text: str = option("hi", doc="What to echo.")

class Echo(Builder):
    """Echoes."""
    config_class = EchoConfig
    def run(self, ui, hook):
        return Artifact("test.echo", self.config.text)

class Say(Provisioner):
    """Says."""
    def provision(self, ui, comm, generated_data):
        ui.say("said")

class Keep(PostProcessor):
    """Keeps."""
    def post_process(self, ui, artifact):
        return artifact, True, False

class Answer(Datasource):
    """Answers."""
    def execute(self):
        return {"value": 42}

@hookimpl
def kiln_builders():
    yield BuilderSpec("{prefix}echo", Echo, "Echoes its text.")

@hookimpl
def kiln_provisioners():
    return [ProvisionerSpec("{prefix}say", Say, "Says.")]

@hookimpl
def kiln_post_processors():
    yield PostProcessorSpec("{prefix}keep", Keep, "Keeps the artifact.")

@hookimpl
def kiln_datasources():
    yield DatasourceSpec("{prefix}answer", Answer, "Answers.")
'''


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Install fake distributions (a module plus its dist-info) into a folder."""
    folder = tmp_path / "site"
    folder.mkdir()
    added: list[str] = []

    def install(dist: str, version: str, module: str, source: str) -> Path:
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
        info = folder / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[kiln]\n{module} = {module}\n")
        added.append(module)
        return folder

    yield install
    for module in added:
        sys.modules.pop(module, None)
    if str(folder) in sys.path:
        sys.path.remove(str(folder))


def test_builtins_register_through_the_same_hooks() -> None:
    pm = make_manager()
    assert {"null", "file"} <= set(pm.builders())
    assert {"shell", "file", "shell-local", "breakpoint"} <= set(pm.provisioners())
    assert {"shell-local", "checksum", "compress", "artifice"} <= set(pm.post_processors())
    assert pm.provider_of(pm.builders()["null"]).distribution == "kiln"


def test_entry_points_of_an_installed_distribution_are_loaded(site: Callable[..., Path]) -> None:
    folder = site(
        "kiln-plugin-echo", "1.2.3", "kiln_plugin_echo", PLUGIN_MODULE.replace("{prefix}", "")
    )
    pm = make_manager([str(folder)])
    assert pm.load_errors == []
    for specs in (pm.builders(), pm.provisioners(), pm.post_processors(), pm.datasources()):
        assert any(s.component.__module__ == "kiln_plugin_echo" for s in specs.values())
    provider = pm.provider_of(pm.builders()["echo"])
    assert (provider.distribution, provider.version) == ("kiln-plugin-echo", "1.2.3")
    assert pm.builders()["echo"].summary == "Echoes its text."


def test_name_and_version_come_from_the_metadata_header_alone(tmp_path: Path) -> None:
    """kiln reads a plugin's name and version from its METADATA's header lines (no email
    parser); a "Name:" in the description, after the header, is not the name."""
    import importlib.metadata as metadata

    from kiln.plugins.discovery import distribution_fields

    info = tmp_path / "Acme_Say-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Acme_Say\nSummary: Says: things\nVersion: 2.0rc1\n"
        "Description-Content-Type: text/markdown\n\nName: not this\nVersion: nor this\n"
    )
    dist = metadata.PathDistribution(info)
    assert distribution_fields(dist) == ("Acme_Say", "2.0rc1")
    assert distribution_fields(dist) == (dist.metadata["Name"], dist.version)
    (info / "METADATA").unlink()
    (info / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: acme-say\n")
    assert distribution_fields(dist) == ("acme-say", "")


def test_a_plugin_that_fails_to_import_is_one_clear_error(site: Callable[..., Path]) -> None:
    site(
        "kiln-plugin-broken",
        "0.9",
        "kiln_plugin_broken",
        "raise ImportError('no module named boto9')\n",
    )
    folder = site(
        "kiln-plugin-echo", "1.2.3", "kiln_plugin_echo", PLUGIN_MODULE.replace("{prefix}", "")
    )
    pm = make_manager([str(folder)])
    assert len(pm.load_errors) == 1
    message = pm.load_errors[0]
    assert '"kiln-plugin-broken" (version 0.9)' in message and "boto9" in message
    assert "echo" in pm.builders()  # the other plugin keeps working


def test_disabled_plugins_are_not_loaded(
    site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = site(
        "kiln-plugin-echo", "1.2.3", "kiln_plugin_echo", PLUGIN_MODULE.replace("{prefix}", "")
    )
    monkeypatch.setenv("KILN_DISABLED_PLUGINS", "kiln-plugin-echo")
    pm = make_manager([str(folder)])
    assert "echo" not in pm.builders()


def test_two_components_with_one_name_are_refused_naming_both(site: Callable[..., Path]) -> None:
    site("kiln-plugin-a", "1.0", "kiln_plugin_a", PLUGIN_MODULE.replace("{prefix}", ""))
    folder = site("kiln-plugin-b", "2.0", "kiln_plugin_b", PLUGIN_MODULE.replace("{prefix}", ""))
    pm = make_manager([str(folder)])
    with pytest.raises(PluginError) as info:
        pm.builders()
    message = str(info.value)
    assert '"echo"' in message and "kiln-plugin-a 1.0" in message and "kiln-plugin-b 2.0" in message


def test_a_plugin_may_not_shadow_a_builtin(site: Callable[..., Path]) -> None:
    folder = site(
        "kiln-plugin-x", "1.0", "kiln_plugin_x", PLUGIN_MODULE.replace("{prefix}echo", "null")
    )
    with pytest.raises(PluginError, match='"kiln '):
        make_manager([str(folder)]).builders()


def test_plugins_installed_lists_every_component(
    site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, kiln: Callable[..., object]
) -> None:
    folder = site(
        "kiln-plugin-echo", "1.2.3", "kiln_plugin_echo", PLUGIN_MODULE.replace("{prefix}", "")
    )
    monkeypatch.syspath_prepend(str(folder))
    result = kiln("plugins", "installed")
    assert result.code == 0  # type: ignore[attr-defined]
    lines = result.out.splitlines()  # type: ignore[attr-defined]
    assert lines[0].split() == ["KIND", "NAME", "DISTRIBUTION", "VERSION"]
    rows = {tuple(line.split()) for line in lines[1:]}
    assert ("builder", "echo", "kiln-plugin-echo", "1.2.3") in rows
    assert ("datasource", "answer", "kiln-plugin-echo", "1.2.3") in rows
    assert any(r[:2] == ("builder", "null") and r[2] == "kiln" for r in rows)


def test_plugins_needs_a_known_subcommand(kiln: Callable[..., object]) -> None:
    result = kiln("plugins", "frobnicate")
    assert result.code == 1 and "installed" in result.err  # type: ignore[attr-defined]


def test_a_plugins_data_source_runs_during_build(
    site: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    kiln: Callable[..., Any],
    tmp_path: Path,
) -> None:
    folder = site(
        "kiln-plugin-echo", "1.2.3", "kiln_plugin_echo", PLUGIN_MODULE.replace("{prefix}", "")
    )
    monkeypatch.syspath_prepend(str(folder))
    out = tmp_path / "answer.txt"
    template = tmp_path / "t.pkr.hcl"
    template.write_text(
        'data "answer" "x" {}\n'
        f'source "file" "f" {{\n  content = "${{data.answer.x.value}}"\n  target = "{out}"\n}}\n'
        'build {\n  sources = ["source.file.f"]\n}\n'
    )
    assert kiln("validate", str(template)).code == 0
    assert kiln("build", str(template)).code == 0
    assert out.read_text() == "42"


def test_an_unknown_data_source_type_is_an_error(kiln: Callable[..., Any], tmp_path: Path) -> None:
    template = tmp_path / "t.pkr.hcl"
    template.write_text(
        'data "nope" "x" {}\nsource "file" "f" {\n  content = "a"\n  target = "b"\n}\n'
        'build {\n  sources = ["source.file.f"]\n}\n'
    )
    for command in ("validate", "build"):
        result = kiln(command, str(template))
        assert result.code == 1
        assert 'Unknown datasource type "nope"' in result.err
        assert "t.pkr.hcl line 1" in result.err
