"""The Docker test bed works: a private engine, local busybox images, a loopback registry."""

from __future__ import annotations

from tests.dockerd import DockerEngine


def test_engine_answers(docker_engine: DockerEngine) -> None:
    version = docker_engine.docker("version", "--format", "{{.Server.Version}}")
    assert version.stdout.strip()
    assert docker_engine.host == f"unix://{docker_engine.root}/docker.sock"


def test_container_runs_from_busybox(docker_engine: DockerEngine, busybox_image: str) -> None:
    before = docker_engine.containers()
    run = docker_engine.docker(
        "run", "--rm", "-i", busybox_image, "sh", "-c", "cat; id -u; ls -d /tmp", input=b"hello\n"
    )
    assert run.stdout.splitlines() == ["hello", "0", "/tmp"]
    assert docker_engine.containers() == before


def test_busybox_image_runs_its_default_command(
    docker_engine: DockerEngine, busybox_image: str
) -> None:
    run = docker_engine.docker("run", "--rm", "-i", busybox_image, input=b"echo from-sh\n")
    assert run.stdout == "from-sh\n"


def test_entrypoint_image_runs_its_entrypoint(
    docker_engine: DockerEngine, busybox_entrypoint_image: str
) -> None:
    assert docker_engine.docker("run", "--rm", busybox_entrypoint_image).stdout == (
        "entry from-cmd\n"
    )
    run = docker_engine.docker("run", "--rm", busybox_entrypoint_image, "other")
    assert run.stdout == "entry other\n"


def test_push_to_registry_and_pull_back(
    docker_engine: DockerEngine, busybox_image: str, docker_registry: str
) -> None:
    remote = f"{docker_registry}/bed/busybox:1"
    docker_engine.docker("tag", busybox_image, remote)
    docker_engine.docker("push", remote)
    docker_engine.docker("rmi", remote)
    assert docker_engine.docker("image", "inspect", remote, check=False).returncode != 0
    docker_engine.docker("pull", remote)
    ids = [
        docker_engine.docker("image", "inspect", "--format", "{{.Id}}", name).stdout
        for name in (busybox_image, remote)
    ]
    assert ids[0] == ids[1]
    run = docker_engine.docker("run", "--rm", remote, "echo", "pulled")
    assert run.stdout == "pulled\n"
