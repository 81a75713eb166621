"""The main job's path in the test run: the repository's plugins published to a local
index, ``kiln init`` of examples/docker-busybox from it, then ``validate`` and ``build``
against the private engine, with the plugin code the lock pins (not the editable one)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_kiln
from tests.dockerd import DockerEngine

from kiln_plugin_docker.artifact import ImageArtifact
from kiln_plugin_docker.driver import Driver

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "docker-busybox"


def test_the_docker_example_installs_validates_and_builds(
    docker_engine: DockerEngine, busybox_image: str, tmp_path: Path, published_plugins: str
) -> None:
    assert busybox_image == "local/busybox:test"  # the example's default base image
    example = tmp_path / "docker-busybox"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(".kiln.lock.hcl", "output"))
    env = {
        "KILN_INDEX_URL": published_plugins,
        "KILN_PLUGIN_PATH": str(tmp_path / "plugins"),
        "DOCKER_HOST": docker_engine.host,
    }
    for command in (["init"], ["validate"], ["build", "-color=false", "-var", 'tags=["t1"]']):
        result = run_kiln(*command, str(example), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    lock = (example / ".kiln.lock.hcl").read_text()
    assert '"kiln-plugin-docker"' in lock and '"kiln-plugin-manifest"' in lock
    out = result.stdout
    assert "Imported Docker image: local/kiln-example:" in out
    motd = docker_engine.docker("run", "--rm", "local/kiln-example:t1", "cat", "/etc/kiln/motd")
    assert motd.stdout.startswith("Hello From Kiln (built ")
    manifest = json.loads((example / "output" / "manifest.json").read_text())
    entry = manifest["builds"][0]
    assert entry["builder_type"] == "docker"
    assert entry["artifact_id"].startswith("local/kiln-example:")
    # the locked plugins (and others this environment has, such as editable ones)
    assert {"kiln-plugin-docker", "kiln-plugin-manifest"} <= set(entry["kiln"]["plugins"])
    tags = docker_engine.docker(
        "images", "--format", "{{.Repository}}:{{.Tag}}", "local/kiln-example"
    ).stdout.split()
    image_id = docker_engine.docker("image", "inspect", "--format", "{{.Id}}", tags[0]).stdout
    docker_engine.docker("rmi", *tags)
    assert image_id.strip() not in docker_engine.images()


def test_an_image_artifact_destroys_its_image(engine_env: DockerEngine, busybox_image: str) -> None:
    engine_env.docker("tag", busybox_image, "kiln-test/destroy:1")
    ImageArtifact(Driver(), "kiln-test/destroy:1").destroy()
    assert engine_env.docker("image", "inspect", "kiln-test/destroy:1", check=False).returncode
