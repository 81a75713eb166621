"""Fixtures for the ansible plugin's tests: a template folder, and the images a test's
docker builds committed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.dockerd import DockerEngine


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A fresh folder for a template and its playbooks."""
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def images(docker_engine: DockerEngine) -> Iterator[list[str]]:
    """Images the test's builds committed (append their ids; removed at the end)."""
    made: list[str] = []
    yield made
    if made:
        docker_engine.docker("rmi", "-f", *made, check=False)
