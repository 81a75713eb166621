"""The manifest kiln writes is the one Packer 1.6.6 writes for the same template: key for
key, in the same order, byte for byte (run UUIDs and times aside), and each reads and
extends the other's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from manifest_helpers import Runner, names, ok, read

from kiln_plugin_manifest.manifest_file import dumps

pytestmark = pytest.mark.packer

HCL = """
variable "release" {
  type    = string
  default = "2024.1"
}

source "file" "disk" {
  content = "hello manifest"
  target  = "out/disk.img"
}

source "null" "machine" {
  communicator = "none"
}

build {
  sources = ["source.file.disk", "source.null.machine"]

  post-processor "manifest" {
    output = "full.json"
    custom_data = {
      source  = source.name
      type    = source.type
      release = var.release
      zeta    = "sorted <first> & last"
      accent  = "é"
    }
  }

  post-processor "manifest" {
    output     = "stripped.json"
    strip_path = true
    strip_time = true
  }
}
"""

LEGACY = """
{
  "variables": {"release": "2024.1"},
  "builders": [
    {"type": "null", "name": "first", "communicator": "none"},
    {"type": "file", "content": "hello manifest", "target": "out/disk.img"}
  ],
  "post-processors": [
    {
      "type": "manifest",
      "output": "full.json",
      "custom_data": {
        "name": "{{build_name}}",
        "type": "{{build_type}}",
        "release": "{{user `release`}}",
        "html": "<a & b>"
      }
    },
    {"type": "manifest", "output": "stripped.json", "strip_path": true, "strip_time": true}
  ]
}
"""

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def pairs(text: str) -> Any:
    """The JSON document with every object as a list of (key, value): order counts."""
    return json.loads(text, object_pairs_hook=list)


def normalized(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with run UUIDs and times replaced, builds sorted by name (builds
    run in parallel), and kiln's own key removed (after checking it is the last)."""
    assert UUID.match(document["last_run_uuid"])
    builds = []
    for build in sorted(document["builds"], key=lambda b: b["name"]):
        build = dict(build)
        if "kiln" in build:
            assert list(build)[-1] == "kiln"
            del build["kiln"]
        assert UUID.match(build["packer_run_uuid"])
        build["packer_run_uuid"] = "UUID"
        if "build_time" in build:
            assert build["build_time"] > 1_600_000_000
            build["build_time"] = 1
        builds.append(build)
    return {**document, "builds": builds, "last_run_uuid": "UUID"}


def build_both(
    template: tuple[str, str], tmp_path: Path, kiln_build: Runner, packer_build: Runner
) -> tuple[Path, Path]:
    name, text = template
    folders = []
    for tool, runner in (("packer", packer_build), ("kiln", kiln_build)):
        work = tmp_path / tool
        work.mkdir()
        (work / name).write_text(text.lstrip("\n"), encoding="utf-8")
        ok(runner(name, cwd=work))
        folders.append(work)
    return folders[0], folders[1]


@pytest.mark.parametrize(
    "template", [("build.pkr.hcl", HCL), ("template.json", LEGACY)], ids=["hcl", "legacy"]
)
def test_the_manifest_is_packers_key_for_key_and_in_order(
    template: tuple[str, str], tmp_path: Path, kiln_build: Runner, packer_build: Runner
) -> None:
    packer, kiln = build_both(template, tmp_path, kiln_build, packer_build)
    for output in ("full.json", "stripped.json"):
        theirs = read(packer / output)
        ours = read(kiln / output)
        assert pairs(json.dumps(normalized(ours))) == pairs(json.dumps(normalized(theirs)))
        # byte for byte: Packer's indentation, escapes (<>& as \u003c...) and no final newline
        assert dumps(normalized(ours)) == dumps(normalized(theirs))
        assert dumps(theirs) == (packer / output).read_text(encoding="utf-8")
        assert all(build["kiln"]["version"] for build in ours["builds"])


def test_each_entry_has_packers_values(
    tmp_path: Path, kiln_build: Runner, packer_build: Runner
) -> None:
    """Spelled out, what the comparison above covers for the HCL template."""
    _, kiln = build_both(("build.pkr.hcl", HCL), tmp_path, kiln_build, packer_build)
    full = {b["name"]: b for b in read(kiln / "full.json")["builds"]}
    assert full["disk"]["files"] == [{"name": "out/disk.img", "size": 14}]
    assert full["disk"]["artifact_id"] == "File"
    assert full["machine"]["files"] is None
    assert full["machine"]["artifact_id"] == "Null"
    assert list(full["disk"]["custom_data"]) == ["accent", "release", "source", "type", "zeta"]
    assert full["disk"]["custom_data"]["source"] == "disk"
    stripped = {b["name"]: b for b in read(kiln / "stripped.json")["builds"]}
    assert stripped["disk"]["files"] == [{"name": "disk.img", "size": 14}]
    assert "build_time" not in stripped["disk"]
    assert stripped["disk"]["custom_data"] is None


def test_kiln_adds_to_a_manifest_packer_wrote_and_packer_to_kilns(
    tmp_path: Path, kiln_build: Runner, packer_build: Runner
) -> None:
    work = tmp_path / "both"
    work.mkdir()
    (work / "build.pkr.hcl").write_text(HCL, encoding="utf-8")
    ok(packer_build("build.pkr.hcl", cwd=work))
    written_by_packer = read(work / "stripped.json")
    ok(kiln_build("build.pkr.hcl", cwd=work))
    after_kiln = read(work / "stripped.json")
    assert after_kiln["builds"][:2] == written_by_packer["builds"]
    assert sorted(names(after_kiln)[2:]) == ["disk", "machine"]
    # Packer reads kiln's manifest (ignoring the kiln key) and appends to it
    ok(packer_build("build.pkr.hcl", cwd=work))
    after_packer = read(work / "stripped.json")
    assert len(after_packer["builds"]) == 6
    assert [b.get("kiln") is None for b in after_packer["builds"]] == [True] * 6


def test_force_starts_afresh_as_packer_does_with_legacy_templates(
    tmp_path: Path, kiln_build: Runner, packer_build: Runner
) -> None:
    counts = {}
    for tool, runner in (("packer", packer_build), ("kiln", kiln_build)):
        work = tmp_path / tool
        work.mkdir()
        (work / "template.json").write_text(LEGACY, encoding="utf-8")
        ok(runner("template.json", cwd=work))
        ok(runner("template.json", cwd=work))
        two_runs = len(read(work / "full.json")["builds"])
        ok(runner("-force", "template.json", cwd=work))
        counts[tool] = (two_runs, len(read(work / "full.json")["builds"]))
    assert counts["kiln"] == counts["packer"] == (4, 2)
