"""Fixtures for the docker plugin's tests: a build container to talk to, and ``kiln
build`` run as a subprocess against the tests' private engine (tests/dockerd.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_helpers import Build, Engine
from tests.conftest import run_kiln
from tests.dockerd import DockerEngine

from kiln_plugin_docker.communicator import DockerCommunicator
from kiln_plugin_docker.driver import Driver


@pytest.fixture
def engine_env(docker_engine: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> DockerEngine:
    """The private engine, also for code running in this process (the driver)."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return docker_engine


@pytest.fixture
def container(engine_env: DockerEngine, busybox_image: str) -> Iterator[str]:
    """A running busybox container, removed afterwards."""
    started = engine_env.docker(
        "run", "-d", "-i", "-t", "--entrypoint=/bin/sh", "--label", "kiln-test=1", busybox_image
    )
    container_id = started.stdout.strip()
    yield container_id
    engine_env.docker("rm", "-f", container_id, check=False)


@pytest.fixture
def comm(container: str) -> DockerCommunicator:
    return DockerCommunicator(Driver(), container)


@pytest.fixture
def engine(docker_engine: DockerEngine, busybox_image: str) -> Iterator[Engine]:
    """The private engine (with the busybox image); what the test makes goes afterwards."""
    running = Engine(docker_engine)
    yield running
    running.cleanup()


@pytest.fixture
def docker_build(engine: Engine) -> Build:
    """``kiln build -color=false ARGS... FOLDER`` against the private engine (see
    :meth:`Engine.build`); the images it made are removed when the test ends."""
    return engine.build


@pytest.fixture
def kiln_validate() -> Build:
    """``kiln validate FOLDER``."""

    def run(folder: Path) -> subprocess.CompletedProcess[str]:
        return run_kiln("validate", str(folder), cwd=folder)

    return run
