"""The ``ansible`` provisioner against docker builds, through the SSH adapter: what the
playbook wrote is in the committed image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_helpers import build, docker_source, template, write
from tests.dockerd import DockerEngine

#: busybox has no python: the ``raw`` module runs a command as it is
RAW_PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - raw: mkdir -p /etc/kiln && echo "raw from {{ packer_builder_type }}" > /etc/kiln/raw
"""

PLAYBOOK = """
- hosts: all
  tasks:
    - name: a folder
      file:
        path: /etc/kiln
        state: directory
    - name: a file from a template
      copy:
        dest: /etc/kiln/motd
        content: "{{ packer_build_name }} on {{ ansible_facts.distribution }}\\n"
        mode: "0640"
    - name: a line in a file
      lineinfile:
        path: /etc/kiln/lines
        line: "{{ item }}"
        create: true
      loop: [one, two]
"""


@pytest.fixture
def images(docker_engine: DockerEngine) -> Iterator[list[str]]:
    """Images the test's builds committed (removed at the end)."""
    made: list[str] = []
    yield made
    if made:
        docker_engine.docker("rmi", "-f", *made, check=False)


def committed(result_out: str) -> str:
    for line in result_out.splitlines():
        if "Image ID: sha256:" in line or "Imported ID: sha256:" in line:
            return line.split("ID: ")[1].strip()
    raise AssertionError(f"no image in the output:\n{result_out}")


def test_the_raw_module_runs_in_a_busybox_container(
    docker_engine: DockerEngine, busybox_image: str, folder: Path, images: list[str]
) -> None:
    write(
        folder,
        **{
            "play.yml": RAW_PLAYBOOK,
            "build.pkr.hcl": template(
                docker_source(busybox_image),
                'playbook_file = "play.yml"',
                ref="source.docker.target",
            ),
        },
    )
    result = build(folder, env={"DOCKER_HOST": docker_engine.host})
    assert result.returncode == 0, result.stdout + result.stderr
    image = committed(result.stdout)
    images.append(image)
    shown = docker_engine.docker("run", "--rm", image, "cat", "/etc/kiln/raw")
    assert shown.stdout == "raw from docker\n"


def test_a_playbook_provisions_a_debian_image(
    docker_engine: DockerEngine, debian_image: str, folder: Path, images: list[str]
) -> None:
    write(
        folder,
        **{
            "play.yml": PLAYBOOK,
            "build.pkr.hcl": template(
                docker_source(debian_image),
                """
                playbook_file   = "play.yml"
                extra_arguments = ["-e", "ansible_python_interpreter=/usr/bin/python3"]
                """,
                ref="source.docker.target",
            ),
        },
    )
    result = build(folder, env={"DOCKER_HOST": docker_engine.host})
    assert result.returncode == 0, result.stdout + result.stderr
    image = committed(result.stdout)
    images.append(image)
    shown = docker_engine.docker(
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "cat /etc/kiln/motd /etc/kiln/lines; stat -c %a /etc/kiln/motd",
    )
    assert shown.stdout == "target on Debian\none\ntwo\n640\n"
