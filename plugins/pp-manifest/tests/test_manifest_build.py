"""The manifest post-processor through ``kiln build``: found through its entry point,
configured from templates, adding to its file run after run."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from manifest_helpers import Runner, names, ok, read

NULL_SOURCES = """
source "null" "{name}" {{
  communicator = "none"
}}
"""


def template(post_processor: str, sources: tuple[str, ...] = ("a",), extra: str = "") -> str:
    blocks = "".join(NULL_SOURCES.format(name=name) for name in sources)
    refs = ", ".join(f'"source.null.{name}"' for name in sources)
    return f"{extra}{blocks}\nbuild {{\n  sources = [{refs}]\n{post_processor}\n}}\n"


MANIFEST = '  post-processor "manifest" {}'


def test_a_new_run_adds_its_builds_to_the_manifest(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(**{"build.pkr.hcl": template(MANIFEST)})
    ok(kiln_build("."))
    ok(kiln_build("."))
    manifest = read(folder / "packer-manifest.json")
    assert names(manifest) == ["a", "a"]
    first, second = (b["packer_run_uuid"] for b in manifest["builds"])
    assert first != second
    assert manifest["last_run_uuid"] == second
    assert list(manifest) == ["builds", "last_run_uuid"]


def test_force_starts_afresh_but_keeps_every_build_of_its_run(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(**{"build.pkr.hcl": template(MANIFEST, ("a", "b", "c"))})
    ok(kiln_build("."))
    ok(kiln_build("."))
    assert len(read(folder / "packer-manifest.json")["builds"]) == 6
    ok(kiln_build("-force", "."))
    manifest = read(folder / "packer-manifest.json")
    assert sorted(names(manifest)) == ["a", "b", "c"]
    assert {b["packer_run_uuid"] for b in manifest["builds"]} == {manifest["last_run_uuid"]}


def test_files_are_recorded_with_their_size_and_path_or_base_name(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(
        **{
            "build.pkr.hcl": """
            source "file" "disk" {
              content = "twelve bytes"
              target  = "out/images/disk.img"
            }
            build {
              sources = ["source.file.disk"]
              post-processor "manifest" {
                output = "full.json"
              }
              post-processor "manifest" {
                output     = "stripped.json"
                strip_path = true
              }
            }
            """
        }
    )
    ok(kiln_build("."))
    full = read(folder / "full.json")["builds"][0]
    stripped = read(folder / "stripped.json")["builds"][0]
    assert full["files"] == [{"name": "out/images/disk.img", "size": 12}]
    assert stripped["files"] == [{"name": "disk.img", "size": 12}]
    assert full["artifact_id"] == stripped["artifact_id"] == "File"


def test_strip_time_leaves_build_time_out(write: Callable[..., Path], kiln_build: Runner) -> None:
    folder = write(
        **{
            "build.pkr.hcl": template(
                '  post-processor "manifest" {\n    output = "timed.json"\n  }\n'
                '  post-processor "manifest" {\n    output = "untimed.json"\n'
                "    strip_time = true\n  }"
            )
        }
    )
    before = int(time.time())
    ok(kiln_build("."))
    timed = read(folder / "timed.json")["builds"][0]
    untimed = read(folder / "untimed.json")["builds"][0]
    assert before <= timed["build_time"] <= int(time.time())
    assert list(timed)[:4] == ["name", "builder_type", "build_time", "files"]
    assert "build_time" not in untimed
    assert list(untimed)[:3] == ["name", "builder_type", "files"]


def test_custom_data_is_interpolated_with_variables_and_build_data(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(
        **{
            "build.pkr.hcl": template(
                """
  post-processor "manifest" {
    custom_data = {
      release = var.release
      source  = "${source.type}.${source.name}"
      id      = build.ID
      run     = build.PackerRunUUID
      named   = "{{ .BuildName }} by {{.BuilderType}}"
    }
  }""",
                extra='variable "release" {\n  default = "1.0"\n}\n',
            )
        }
    )
    ok(kiln_build("-var", "release=2.5", "."))
    manifest = read(folder / "packer-manifest.json")
    custom = manifest["builds"][0]["custom_data"]
    assert custom == {
        "id": "Null",
        "named": "a by null",
        "release": "2.5",
        "run": manifest["last_run_uuid"],
        "source": "null.a",
    }
    assert list(custom) == sorted(custom)  # Go writes a map sorted by key


def test_custom_data_in_a_legacy_template_uses_go_template_functions(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(
        **{
            "template.json": """
            {
              "variables": {"owner": "ops"},
              "builders": [{"type": "null", "name": "box", "communicator": "none"}],
              "post-processors": [{
                "type": "manifest",
                "custom_data": {
                  "owner": "{{user `owner`}}",
                  "name": "{{build_name}}",
                  "id": "{{build `ID`}}"
                }
              }]
            }
            """
        }
    )
    ok(kiln_build("template.json"))
    custom = read(folder / "packer-manifest.json")["builds"][0]["custom_data"]
    assert custom == {"id": "Null", "name": "box", "owner": "ops"}


def test_an_unknown_placeholder_in_custom_data_fails_the_build_saying_what_to_write(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(
        **{
            "build.pkr.hcl": template(
                '  post-processor "manifest" {\n    custom_data = { x = "{{ .Nope }}" }\n  }'
            )
        }
    )
    proc = kiln_build(".")
    assert proc.returncode == 1
    assert 'custom_data "x": Unknown placeholder {{ .Nope }}' in proc.stderr + proc.stdout
    assert not (folder / "packer-manifest.json").exists()


def test_output_takes_placeholders_and_missing_folders_are_created(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(
        **{
            "build.pkr.hcl": template(
                '  post-processor "manifest" {\n'
                '    output = "manifests/${source.name}/{{.BuildName}}-{{.BuilderType}}.json"\n'
                "  }",
                ("a", "b"),
            )
        }
    )
    ok(kiln_build("."))
    assert names(read(folder / "manifests/a/a-null.json")) == ["a"]
    assert names(read(folder / "manifests/b/b-null.json")) == ["b"]


def test_an_unknown_placeholder_in_output_is_reported_at_its_line(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    write(
        **{
            "build.pkr.hcl": template(
                '  post-processor "manifest" {\n    output = "{{.Build}}.json"\n  }'
            )
        }
    )
    proc = kiln_build(".")
    assert proc.returncode == 1
    assert "on build.pkr.hcl line 8, column 14" in proc.stderr
    assert "Unknown placeholder {{.Build}}" in proc.stderr


def test_each_entry_says_which_kiln_and_plugins_built_it(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(**{"build.pkr.hcl": template(MANIFEST)})
    ok(kiln_build("."))
    entry = read(folder / "packer-manifest.json")["builds"][0]
    assert list(entry) == [
        "name",
        "builder_type",
        "build_time",
        "files",
        "artifact_id",
        "packer_run_uuid",
        "custom_data",
        "kiln",
    ]
    assert entry["kiln"]["version"] == metadata.version("kiln")
    plugins = entry["kiln"]["plugins"]
    assert plugins["kiln-plugin-manifest"] == metadata.version("kiln-plugin-manifest")


def test_the_input_artifact_is_kept_even_when_asked_not_to(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(
        **{
            "build.pkr.hcl": """
            source "file" "disk" {
              content = "keep me"
              target  = "disk.img"
            }
            build {
              sources = ["source.file.disk"]
              post-processor "manifest" {
                keep_input_artifact = false
              }
            }
            """
        }
    )
    proc = ok(kiln_build("."))
    assert (folder / "disk.img").read_text() == "keep me"
    assert "keep_input_artifact = false is ignored" in proc.stdout
    assert proc.stdout.count("--> file.disk: Stored file: disk.img") == 2


def test_a_corrupt_manifest_fails_the_build_and_is_left_alone(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(**{"build.pkr.hcl": template(MANIFEST), "packer-manifest.json": '{"builds": ['})
    proc = kiln_build(".")
    assert proc.returncode == 1
    assert "Unable to parse content from the manifest packer-manifest.json" in proc.stderr
    assert (folder / "packer-manifest.json").read_text() == '{"builds": ['
