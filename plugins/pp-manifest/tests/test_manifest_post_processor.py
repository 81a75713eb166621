"""The post-processor on its own (kiln.testing), its registration, and its generated
reference page."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from manifest_helpers import names, read

import kiln_plugin_manifest
from kiln.sdk import Artifact, BuildError, Cancelled, ConfigError, Context
from kiln.testing import MockUi, check_reference_pages, configure
from kiln_plugin_manifest import plugin, post_processor
from kiln_plugin_manifest.manifest_file import lock_path
from kiln_plugin_manifest.post_processor import Manifest

DOCS = Path(__file__).resolve().parent.parent / "docs"
CTX = Context(build_name="web", builder_type="docker", run_uuid="run-1")


def manifest(tmp_path: Path, ctx: Context = CTX, **options: Any) -> Manifest:
    return configure(Manifest, ctx=ctx, output=str(tmp_path / "m.json"), **options)


def test_the_plugin_registers_the_manifest_post_processor(
    register_plugin: Callable[..., Any],
) -> None:
    spec = register_plugin(plugin).post_processors()["manifest"]
    assert spec.component is Manifest
    assert spec.summary.startswith("Records each build")


def test_the_input_artifact_passes_on_and_is_kept(tmp_path: Path) -> None:
    artifact = Artifact("packer.docker", id="sha256:abc")
    result = manifest(tmp_path).post_process(MockUi(), artifact)
    assert result == (artifact, True, True)


def test_an_artifact_without_files_has_null_files_and_missing_files_size_zero(
    tmp_path: Path,
) -> None:
    pp = manifest(tmp_path)
    assert pp.entry(Artifact("x", id="i"))["files"] is None
    present = tmp_path / "disk.img"
    present.write_bytes(b"12345")
    entry = pp.entry(Artifact("x", files=[str(present), "gone/file.img"]))
    assert entry["files"] == [
        {"name": str(present), "size": 5},
        {"name": "gone/file.img", "size": 0},
    ]


def test_kiln_and_plugin_versions_come_from_the_context(tmp_path: Path) -> None:
    ctx = Context(build_name="web", versions=(("kiln", "9.9"), ("kiln-plugin-docker", "1.2.0")))
    entry = manifest(tmp_path, ctx).entry(Artifact("x"))
    assert entry["kiln"] == {
        "version": "9.9",
        "plugins": {
            "kiln-plugin-docker": "1.2.0",
            "kiln-plugin-manifest": kiln_plugin_manifest.__version__,
        },
    }


def test_custom_data_uses_the_builders_generated_data(tmp_path: Path) -> None:
    pp = manifest(tmp_path, custom_data={"ami": "{{ .SourceAMIName }} for {{.BuildName}}"})
    artifact = Artifact("x", state={"generated_data": {"SourceAMIName": "debian-12"}})
    assert pp.entry(artifact)["custom_data"] == {"ami": "debian-12 for web"}


def test_an_empty_custom_data_is_an_empty_object_and_none_is_null(tmp_path: Path) -> None:
    assert manifest(tmp_path, custom_data={}).entry(Artifact("x"))["custom_data"] == {}
    assert manifest(tmp_path).entry(Artifact("x"))["custom_data"] is None


def test_an_empty_output_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        configure(Manifest, output="")
    assert caught.value.option == "output"


def test_an_empty_file_is_a_new_manifest(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("\n")
    manifest(tmp_path).post_process(MockUi(), Artifact("x"))
    assert names(read(tmp_path / "m.json")) == ["web"]


def test_a_file_that_is_not_a_manifest_is_an_error_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("[1, 2]")
    with pytest.raises(BuildError, match="is not a manifest"):
        manifest(tmp_path).post_process(MockUi(), Artifact("x"))
    assert (tmp_path / "m.json").read_text() == "[1, 2]"


def test_unknown_top_level_keys_are_kept(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"builds": [], "note": "mine"}))
    manifest(tmp_path).post_process(MockUi(), Artifact("x"))
    assert list(read(tmp_path / "m.json")) == ["builds", "last_run_uuid", "note"]


def test_a_new_manifest_gets_packers_mode_less_the_umask_and_a_replaced_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    old = os.umask(0o022)
    try:
        manifest(tmp_path).post_process(MockUi(), Artifact("x"))
        assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "m.json", 0o600)
        manifest(tmp_path).post_process(MockUi(), Artifact("x"))
        assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


@pytest.fixture
def held_lock(tmp_path: Path) -> Any:
    """The manifest's lock, held by another thread until the test ends."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with FileLock(lock_path(str(tmp_path / "m.json"))):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    yield release
    release.set()
    holder.join()


def test_waiting_for_another_writer_is_said_and_a_cancel_stops_it(
    tmp_path: Path, held_lock: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(post_processor, "SAY_WAITING_AFTER", 0.3)
    ctx = Context(build_name="web", run_uuid="r").child(timeout=1.0)
    ui = MockUi()
    with pytest.raises(Cancelled):
        manifest(tmp_path, ctx).post_process(ui, Artifact("x"))
    assert ui.says[-1] == f"Waiting for another build to finish writing {tmp_path / 'm.json'}..."
    assert not (tmp_path / "m.json").exists()


def test_the_reference_page_in_docs_is_current() -> None:
    check_reference_pages(DOCS, kiln_plugin_manifest.DISTRIBUTION)
