"""scripts/publish-plugins puts this plugin in a local index that pip installs from."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.indexserver import publish_plugins

import kiln_plugin_manifest


def test_publish_writes_a_pep503_index_pip_installs_the_plugin_from(tmp_path: Path) -> None:
    index = tmp_path / "index"
    out = publish_plugins(index)
    version = kiln_plugin_manifest.__version__
    wheel = index / "files" / f"kiln_plugin_manifest-{version}-py3-none-any.whl"
    assert f"published kiln-plugin-manifest {version}: {wheel}" in out
    # filelock, its one dependency, is kiln's own: nothing is fetched for it
    fetched = next(line for line in out.splitlines() if line.startswith("dependencies"))
    assert "filelock" not in fetched

    page = (index / "simple" / "kiln-plugin-manifest" / "index.html").read_text()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f'href="../../files/{wheel.name}#sha256={digest}"' in page
    assert 'data-requires-python="&gt;=3.11"' in page
    assert 'href="kiln-plugin-manifest/"' in (index / "simple" / "index.html").read_text()
    with zipfile.ZipFile(wheel) as zf:
        entry_points = zf.read(f"kiln_plugin_manifest-{version}.dist-info/entry_points.txt")
    assert b"[kiln]\nmanifest = kiln_plugin_manifest.plugin" in entry_points

    got = tmp_path / "got"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--index-url",
            (index / "simple").as_uri() + "/",
            "-d",
            str(got),
            "kiln-plugin-manifest",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in got.iterdir()] == [wheel.name]


def test_publishing_again_replaces_the_plugin_and_keeps_other_files(tmp_path: Path) -> None:
    index = tmp_path / "index"
    publish_plugins(index)
    dependency = index / "files" / "othertool-1.0-py3-none-any.whl"
    with zipfile.ZipFile(dependency, "w") as zf:
        zf.writestr("othertool-1.0.dist-info/METADATA", "Name: othertool\nVersion: 1.0\n\n")
    publish_plugins(index)
    files = sorted(p.name for p in (index / "files").iterdir())
    assert len([f for f in files if f.startswith("kiln_plugin_manifest-")]) == 1
    assert dependency.name in files
    root = (index / "simple" / "index.html").read_text()
    projects = re.findall(r'href="([^"]+)/"', root)
    assert "kiln-plugin-manifest" in projects and "othertool" in projects
