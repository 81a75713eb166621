"""kiln remembers the ``kiln`` entry points it found (``kiln.plugins.discovery``): a
command whose installed distributions have not changed reads them back without
importing importlib.metadata, and any install, removal or edit is seen at once."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiln.install.lockfile import environment_versions
from kiln.plugins import discovery
from kiln.plugins.discovery import PluginEntryPoint, entry_points
from kiln.plugins.manager import make_manager

ECHO = '''
from kiln.sdk import Artifact, Builder, BuilderSpec, hookimpl

class Echo(Builder):
    """Echoes."""
    def run(self, ui, hook):
        return Artifact("test.echo", "hi")

@hookimpl
def kiln_builders():
    yield BuilderSpec("{component}", Echo, "Echoes.")
'''


class Site:
    """A folder on ``sys.path`` to install fake distributions into."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.modules: list[str] = []

    def install(self, dist: str, version: str, module: str, source: str = "") -> Path:
        (self.folder / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.info(dist, version)
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[kiln]\n{module} = {module}\n")
        self.modules.append(module)
        return info

    def info(self, dist: str, version: str) -> Path:
        return self.folder / f"{dist.replace('-', '_')}-{version}.dist-info"

    def keep_time(self) -> Callable[[], None]:
        """A function that sets the folder's time back to what it is now: a change made
        in between looks made within one tick of the file system's clock."""
        stat = self.folder.stat()
        return lambda: os.utime(self.folder, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    site = Site(folder)
    yield site
    for module in site.modules:
        sys.modules.pop(module, None)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the scans through importlib.metadata (the cache misses)."""
    counted: list[int] = []
    scan = discovery._scan

    def counting() -> object:
        counted.append(1)
        return scan()

    monkeypatch.setattr(discovery, "_scan", counting)
    return counted


def ours(found: list[PluginEntryPoint]) -> set[tuple[str, str, str, str]]:
    """The entry points of the test's distributions (not kiln's own plugins)."""
    return {
        (ep.distribution, ep.version, ep.name, ep.value)
        for ep in found
        if ep.distribution.startswith("kiln-plugin-t")
    }


def test_discovery_matches_importlib_metadata(site: Site) -> None:
    site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    expected = [(ep.name, ep.value) for ep in metadata.entry_points(group="kiln")]
    for _ in range(2):  # a miss, then a hit
        found = entry_points()
        assert [(ep.name, ep.value) for ep in found] == expected
        assert ("kiln-plugin-tone", "1.0", "kiln_plugin_tone", "kiln_plugin_tone") in ours(found)


def test_a_second_discovery_does_not_import_importlib_metadata(site: Site, tmp_path: Path) -> None:
    site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    (tmp_path / "cache").mkdir()
    code = (
        "import json, sys\n"
        "from kiln.plugins.discovery import entry_points\n"
        "found = [[e.distribution, e.version, e.name, e.value] for e in entry_points()]\n"
        "print(json.dumps([found, 'importlib.metadata' in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site.folder)}

    def run() -> tuple[list[list[str]], bool]:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=site.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found, imported = json.loads(proc.stdout)
        return found, imported

    cold, cold_imported = run()
    assert ["kiln-plugin-tone", "1.0", "kiln_plugin_tone", "kiln_plugin_tone"] in cold
    assert cold_imported  # the check sees it
    assert list((tmp_path / "cache" / "entry-points").glob("*.json"))
    warm, warm_imported = run()
    assert warm == cold
    assert not warm_imported


def test_installs_and_removals_are_seen_within_one_tick(site: Site, scans: list[int]) -> None:
    site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    one = ("kiln-plugin-tone", "1.0", "kiln_plugin_tone", "kiln_plugin_tone")
    two = ("kiln-plugin-ttwo", "2.0", "kiln_plugin_ttwo", "kiln_plugin_ttwo")
    assert ours(entry_points()) == {one}
    assert ours(entry_points()) == {one}
    assert len(scans) == 1  # the second was a hit
    same_tick = site.keep_time()
    site.install("kiln-plugin-ttwo", "2.0", "kiln_plugin_ttwo")
    same_tick()
    assert ours(entry_points()) == {one, two}
    assert len(scans) == 2
    shutil.rmtree(site.info("kiln-plugin-ttwo", "2.0"))
    same_tick()
    assert ours(entry_points()) == {one}
    # an upgrade: another folder name
    shutil.rmtree(site.info("kiln-plugin-tone", "1.0"))
    site.install("kiln-plugin-tone", "1.1", "kiln_plugin_tone")
    same_tick()
    assert ours(entry_points()) == {("kiln-plugin-tone", "1.1", *one[2:])}
    assert len(scans) == 4


def test_metadata_edited_in_place_is_seen(site: Site, scans: list[int]) -> None:
    info = site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    for name in ("entry_points.txt", "METADATA"):  # written long ago
        os.utime(info / name, ns=(10**18, 10**18))
    one = ("kiln-plugin-tone", "1.0", "kiln_plugin_tone", "kiln_plugin_tone")
    assert ours(entry_points()) == {one}
    same_tick = site.keep_time()
    with open(info / "entry_points.txt", "r+") as f:  # the same file, the same size
        f.write("[kiln]\nkiln_plugin_tenn = kiln_plugin_tone\n")
    same_tick()
    assert ours(entry_points()) == {(*one[:2], "kiln_plugin_tenn", "kiln_plugin_tone")}
    with open(info / "METADATA", "r+") as f:
        f.write("Metadata-Version: 2.1\nName: kiln-plugin-tone\nVersion: 1.1\n")
    same_tick()
    assert ours(entry_points()) == {(one[0], "1.1", "kiln_plugin_tenn", "kiln_plugin_tone")}
    assert len(scans) == 3
    entry_points()
    assert len(scans) == 3


@pytest.mark.parametrize("damage", [b"", b'{"format": "kiln-entr', b"[]", b'{"format": 1}'])
def test_a_damaged_cache_entry_is_scanned_again(
    site: Site, scans: list[int], tmp_path: Path, damage: bytes
) -> None:
    site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    expected = ours(entry_points())
    (entry,) = (tmp_path / "cache" / "entry-points").glob("*.json")
    entry.write_bytes(damage)
    assert ours(entry_points()) == expected
    assert len(scans) == 2
    assert ours(entry_points()) == expected  # the entry was written again
    assert len(scans) == 2


def test_an_unwritable_cache_is_only_a_miss(
    site: Site, scans: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "file"))  # not a folder
    assert len(ours(entry_points())) == 1
    assert len(ours(entry_points())) == 1
    assert len(scans) == 2


def test_another_finder_of_distributions_turns_the_cache_off(
    site: Site, scans: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Finder:
        def find_distributions(self, context: object = None) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    entry_points()
    entry_points()
    assert len(scans) == 2
    assert not (tmp_path / "cache" / "entry-points").exists()


@pytest.mark.parametrize(
    "value",
    ["os.path", "os.path:join", "os:path.join", "os : path.join [extra]", "os[x]", "a b", "x:"],
)
def test_an_entry_point_loads_as_importlib_metadata_loads_it(value: str) -> None:
    def load(load: Callable[[], object]) -> object:
        try:
            return load()
        except Exception as exc:
            return (type(exc), str(exc))

    expected = load(metadata.EntryPoint("e", value, "kiln").load)
    assert load(PluginEntryPoint("d", "1", "e", value).load) == expected


def test_plugins_load_alike_from_the_cache(
    site: Site, scans: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names, versions, disabled plugins and a broken plugin's error, on a miss and a hit."""
    site.install("kiln-plugin-techo", "1.2.3", "kiln_plugin_techo", ECHO.format(component="techo"))
    site.install("kiln-plugin-tbroken", "0.9", "kiln_plugin_tbroken", "raise ImportError('boto9')")
    cold = make_manager()
    warm = make_manager()
    assert len(scans) == 1
    assert warm.load_errors == cold.load_errors
    (message,) = [m for m in warm.load_errors if "tbroken" in m]
    assert message == (
        'The plugin "kiln-plugin-tbroken" (version 0.9) failed to load its entry point '
        '"kiln_plugin_tbroken = kiln_plugin_tbroken": ImportError: boto9. Its components '
        "are unavailable; reinstall it with 'kiln init -upgrade', or disable it with "
        "KILN_DISABLED_PLUGINS=kiln-plugin-tbroken."
    )
    assert warm.providers == cold.providers
    assert list(warm.providers) == list(cold.providers)  # the order they registered in
    provider = warm.provider_of(warm.builders()["techo"])
    assert (provider.distribution, provider.version) == ("kiln-plugin-techo", "1.2.3")
    monkeypatch.setenv("KILN_DISABLED_PLUGINS", "kiln-plugin-techo,kiln_plugin_tbroken")
    disabled = make_manager()
    assert len(scans) == 1
    assert "techo" not in disabled.builders()
    assert not [m for m in disabled.load_errors if "tbroken" in m]


def test_the_environment_version_of_a_plugin_comes_from_its_entry_points(site: Site) -> None:
    site.install("kiln-plugin-tone", "1.0", "kiln_plugin_tone")
    versions = environment_versions()
    assert versions["kiln-plugin-tone"] == "1.0"  # by canonical name
    assert "kiln-plugin-tnone" not in versions
    # a distribution without kiln entry points is no plugin
    assert metadata.version("pluggy")
    assert "pluggy" not in versions
