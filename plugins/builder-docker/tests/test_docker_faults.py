"""The docker fault-injection suite (issue 9): at every step of a docker build in turn,
(a) a failure, (b) SIGINT while the step runs, (c) SIGKILL of ``kiln build`` while the
step runs, then ``kiln reap``; also SIGTERM, and an engine that goes away mid-build and
comes back. After each, the engine's containers, images and volumes, this machine's
temporary folders and partial files, and the cleanup journals are counted through
``fault_report``: nothing of the build may remain.

The faults come from a ``docker`` that fails or holds at one docker call
(docker_faults.py), so a step is interrupted while it runs, not after a guessed sleep.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
from docker_faults import BuildProcess, FaultyDocker, kiln_reap
from docker_helpers import push_with_own_login, write
from tests.dockerd import AuthRegistry, DockerEngine, make_busybox_image, running_dockerd
from tests.faults import FaultReport

from kiln.sdk.journal import Journal
from kiln_plugin_docker.reaper import REAPER


class Point(NamedTuple):
    """An injection point: a step (or post-processor), the docker call that runs while
    it does, and the template it belongs to."""

    name: str
    call: str
    template: str


#: a build that logs in, pulls, runs a container with an anonymous volume, connects,
#: provisions and commits; the steps in order, each by a docker call it makes
COMMIT = [
    Point("login", "login", "commit"),  # the pull step's login: credentials on disk
    Point("pull", "pull", "commit"),
    Point("run", "run", "commit"),
    Point("connect", "container", "commit"),  # container inspect, for the exec user
    Point("provision", "exec", "commit"),
    Point("commit", "commit", "commit"),
]
#: a build that exports its container, then docker-import and docker-save
EXPORT = [
    Point("export", "export", "export"),
    Point("docker-import", "import", "export"),
    Point("docker-save", "save", "export"),
]
MODES = ["failure", "SIGINT", "SIGKILL+reap"]
#: the build container gets an anonymous volume, which must go with it
RUN_COMMAND = (
    '["-d", "-i", "-t", "--volume", "/scratch", "--entrypoint=/bin/sh", "--", "{{.Image}}"]'
)

TEMPLATES = {
    "commit": """
        variable "registry_password" {
          type      = string
          sensitive = true
        }
        source "docker" "fault" {
          image          = "@IMAGE@"
          login          = true
          login_server   = "@REGISTRY@"
          login_username = "@USERNAME@"
          login_password = var.registry_password
          commit         = true
          docker_path    = "@DOCKER@"
          run_command    = @RUN_COMMAND@
        }
        build {
          sources = ["source.docker.fault"]
          provisioner "shell" { inline = ["echo provisioned > /scratch/x; touch /built"] }
        }
        """,
    "export": """
        source "docker" "fault" {
          image       = "@IMAGE@"
          pull        = false
          export_path = "out/container.tar"
          docker_path = "@DOCKER@"
        }
        build {
          sources = ["source.docker.fault"]
          provisioner "shell" { inline = ["touch /built"] }
          post-processors {
            post-processor "docker-import" {
              repository  = "kiln-fault/imported"
              tag         = "@TAG@"
              docker_path = "@DOCKER@"
            }
            post-processor "docker-save" {
              path        = "out/image.tar"
              docker_path = "@DOCKER@"
            }
          }
        }
        """,
    "lost": """
        source "docker" "fault" {
          image       = "@IMAGE@"
          pull        = false
          discard     = true
          docker_path = "@DOCKER@"
          run_command = @RUN_COMMAND@
        }
        build {
          sources = ["source.docker.fault"]
          provisioner "shell" { inline = ["echo provisioning-started", "sleep 300"] }
        }
        """,
}


@pytest.fixture(scope="module")
def base_image(
    docker_engine: DockerEngine,
    busybox_image: str,
    docker_auth_registry: AuthRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The busybox image in the registry that wants a login, and in the engine too (a
    pull finds it up to date: the base, not something a build made)."""
    reference = f"{docker_auth_registry.address}/kiln-fault/base:1"
    config = tmp_path_factory.mktemp("fault-docker-config")
    push_with_own_login(docker_engine, docker_auth_registry, busybox_image, reference, config)
    return reference


@dataclass
class Scene:
    """One fault test's build: its template, folders, engine and what was there before."""

    engine: DockerEngine
    root: Path
    registry: AuthRegistry
    docker: FaultyDocker
    tag: str

    def __post_init__(self) -> None:
        self.template = self.root / "template"
        self.out = self.template / "out"
        self.tmp = self.root / "tmp"
        self.state = self.root / "state"
        for folder in (self.out, self.tmp, self.state):
            folder.mkdir(parents=True)
        self.containers = set(self.engine.containers())
        self.images = set(self.engine.images())
        self.volumes = set(self.engine.volumes())

    def write(self, kind: str, image: str) -> None:
        write(
            self.template,
            "build.pkr.hcl",
            TEMPLATES[kind],
            IMAGE=image,
            REGISTRY=self.registry.address,
            USERNAME=self.registry.username,
            DOCKER=str(self.docker.program),
            TAG=self.tag,
            RUN_COMMAND=RUN_COMMAND,
        )

    def env(self, **extra: str) -> dict[str, str]:
        """The build's environment: the engine, and private state and temporary folders."""
        return {
            **self.engine.env(),
            "KILN_STATE_DIR": str(self.state),
            "TMPDIR": str(self.tmp),
            "KILN_TMP_DIR": str(self.tmp),
            "PKR_VAR_registry_password": self.registry.password,
            **extra,
        }

    def build(self, **extra: str) -> BuildProcess:
        return BuildProcess(self.template, self.root / "build.log", self.env(**extra))

    def reap(self) -> subprocess.CompletedProcess[str]:
        """``kiln reap`` with no DOCKER_HOST: the journal says which engine to use."""
        return kiln_reap(self.state, self.env())

    def kept(self) -> set[str]:
        """Images the build handed over (docker-import's image, before docker-save)."""
        found = self.engine.docker(
            "images", "-q", "--no-trunc", f"kiln-fault/imported:{self.tag}"
        ).stdout.split()
        return set(found)

    def leftovers(self) -> dict[str, list[str]]:
        """Everything of the build's that remains, by kind."""
        journals = self.state / "journals"
        return {
            "containers": sorted(set(self.engine.containers()) - self.containers),
            "images": sorted(set(self.engine.images()) - self.images - self.kept()),
            "volumes": sorted(set(self.engine.volumes()) - self.volumes),
            "temp folders": sorted(os.listdir(self.tmp)),
            "partial files": sorted(p.name for p in self.out.glob(".*.part")),
            "journals": sorted(os.listdir(journals)) if journals.exists() else [],
        }

    def cleanup(self) -> None:
        for image in self.kept():
            self.engine.docker("rmi", "--force", image, check=False)


@pytest.fixture
def scene(
    docker_engine: DockerEngine,
    docker_auth_registry: AuthRegistry,
    tmp_path: Path,
) -> Iterator[Scene]:
    found = Scene(
        docker_engine,
        tmp_path,
        docker_auth_registry,
        FaultyDocker(tmp_path / "docker"),
        uuid.uuid4().hex[:8],
    )
    yield found
    found.cleanup()


def inject(scene: Scene, point: Point, mode: str) -> str:
    """Run the build with ``mode`` injected at ``point``; return what it printed (and,
    after a SIGKILL, what kiln reap printed)."""
    docker = scene.docker
    if mode == "failure":
        build = scene.build(**docker.env(point.call, "fail"))
        status = build.finish()
        assert status == 1 and docker.done, build.output
        return build.output
    build = scene.build(**docker.env(point.call, "hold"))
    build.wait_until(f"docker {point.call}", lambda: docker.held)
    if mode == "SIGKILL+reap":
        build.signal(signal.SIGKILL)
        build.finish()
        # the docker CLI outlives kiln (it runs in its own session): let it finish
        docker.release()
        build.wait_until(f"the end of docker {point.call}", lambda: docker.done, running=False)
        (journal,) = (scene.state / "journals").iterdir()
        written = journal.read_text()
        # never a secret; and docker's records say how to reach the engine
        assert scene.registry.password not in written
        if '"reaper":"docker"' in written:
            assert scene.engine.host in written and str(docker.program) in written
        reaped = scene.reap()
        assert reaped.returncode == 0, reaped.stdout + reaped.stderr
        assert "Reaped: removed" in reaped.stdout, reaped.stdout
        return build.output + reaped.stdout
    build.signal(signal.SIGINT if mode == "SIGINT" else signal.SIGTERM)
    build.wait_for_output("Interrupt received")
    docker.release()  # a call kiln waits for (run, commit) goes on; others were stopped
    assert build.finish() == 1, build.output
    assert "Cleanly cancelled builds after being interrupted." in build.output
    return build.output


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("point", COMMIT + EXPORT, ids=lambda p: p.name)
def test_nothing_remains_after_a_fault_at_each_step(
    scene: Scene,
    base_image: str,
    busybox_image: str,
    fault_report: FaultReport,
    point: Point,
    mode: str,
) -> None:
    scene.write(point.template, base_image if point.template == "commit" else busybox_image)
    output = inject(scene, point, mode)
    assert scene.registry.password not in output
    fault_report.check("docker", f"{point.name}: {mode}", scene.leftovers())


@pytest.mark.parametrize("mode", ["SIGINT", "SIGKILL+reap"])
def test_nothing_remains_after_an_interrupt_in_the_last_cleanup(
    scene: Scene, base_image: str, fault_report: FaultReport, mode: str
) -> None:
    """Every step ran and the image is committed; the signal comes while the container
    is removed. The build is cancelled all the same, so its image goes too."""
    scene.write("commit", base_image)
    output = inject(scene, Point("cleanup", "rm", "commit"), mode)
    if mode == "SIGINT":
        assert "Removing the artifact of the cancelled build" in output
    fault_report.check("docker", f"cleanup (container removal): {mode}", scene.leftovers())


def test_a_container_removal_that_fails_in_a_finished_build_is_done_again(
    scene: Scene, base_image: str, fault_report: FaultReport
) -> None:
    """The build succeeds, its cleanup's docker rm fails (a Ctrl-C that cut it short
    does the same): the container is removed through the reaper before kiln exits."""
    scene.write("commit", base_image)
    build = scene.build(**scene.docker.env("rm", "fail"))
    assert build.finish() == 0, build.output
    assert "Error cleaning up (StepRun)" in build.output
    assert "Removing what the cleanup left: container" in build.output
    (image,) = set(re.findall(r"sha256:[0-9a-f]{64}", build.output.split("Builds finished")[1]))
    scene.engine.docker("rmi", image)  # the build's artifact, the user's
    fault_report.check("docker", "cleanup (container removal): failure", scene.leftovers())


def test_nothing_remains_when_the_temporary_folder_cannot_be_made(
    scene: Scene, busybox_image: str, fault_report: FaultReport
) -> None:
    scene.write("export", busybox_image)
    blocked = scene.root / "not-a-folder"
    blocked.touch()
    build = scene.build(KILN_TMP_DIR=str(blocked))
    assert build.finish() == 1
    assert f"Cannot make the build's temporary folder in {blocked}" in build.output
    fault_report.check("docker", "temp-dir: failure", scene.leftovers())


def test_sigterm_cancels_and_cleans_up_like_sigint(
    scene: Scene, base_image: str, fault_report: FaultReport
) -> None:
    scene.write("commit", base_image)
    inject(scene, COMMIT[4], "SIGTERM")
    fault_report.check("docker", "provision: SIGTERM", scene.leftovers())


@pytest.fixture
def lost_engine(tmp_path: Path) -> Iterator[DockerEngine]:
    """An engine of this test's own, with the busybox image: it is crashed and restarted."""
    with running_dockerd(tmp_path / "dockerd") as engine:
        yield engine


def test_an_engine_that_goes_away_mid_build_and_comes_back_is_reaped(
    lost_engine: DockerEngine,
    docker_auth_registry: AuthRegistry,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    image = make_busybox_image(lost_engine, "local/busybox:lost")
    scene = Scene(
        lost_engine, tmp_path, docker_auth_registry, FaultyDocker(tmp_path / "docker"), "lost"
    )
    scene.write("lost", image)
    build = scene.build()
    build.wait_for_output("provisioning-started")
    lost_engine.crash()
    assert build.finish() == 1
    # its cleanup could not reach the engine: the container stays in the journal
    output = build.output
    assert "resource(s) of this run were not removed; 'kiln reap' removes them" in output
    assert "--> docker.fault: container " in output
    (journal,) = (scene.state / "journals").iterdir()

    away = scene.reap()
    assert away.returncode == 1
    assert "could not remove container" in away.stderr and "Cannot connect" in away.stderr
    assert journal.exists(), "what could not be removed stays for the next kiln reap"

    lost_engine.restart()
    assert len(set(lost_engine.containers()) - scene.containers) == 1
    back = scene.reap()
    assert back.returncode == 0, back.stdout + back.stderr
    assert "docker.fault: removed container " in back.stdout
    fault_report.check("docker", "engine away and back", scene.leftovers())


def test_kiln_reap_leaves_an_image_a_container_uses_and_says_why(
    docker_engine: DockerEngine, busybox_image: str, tmp_path: Path
) -> None:
    made = docker_engine.docker("create", busybox_image).stdout.strip()
    image = docker_engine.docker("commit", made).stdout.strip()
    docker_engine.docker("rm", made)
    # since the run was killed, someone made a container of its image
    user = docker_engine.docker("create", image).stdout.strip()
    state = tmp_path / "state"
    journal = Journal.create(state / "journals", "killed-run")
    engine = {"DOCKER_HOST": docker_engine.host}
    journal.record(REAPER, "image", "docker.x", id=image, docker="docker", engine=engine)
    journal.close()
    first = kiln_reap(state, os.environ)
    assert first.returncode == 1
    assert f"docker.x: could not remove image {image}: docker rmi {image} failed" in first.stderr
    assert f"image is being used by stopped container {user[:12]}" in first.stderr
    assert image in docker_engine.images()

    docker_engine.docker("rm", user)
    second = kiln_reap(state, os.environ)
    assert second.returncode == 0, second.stderr
    assert f"docker.x: removed image {image}" in second.stdout
    assert image not in docker_engine.images()
    assert "Nothing left behind" in kiln_reap(state, os.environ).stdout
