"""The ``ansible`` provisioner against docker builds, through the SSH adapter: what the
playbook wrote is in the committed image."""

from __future__ import annotations

from pathlib import Path

from ansible_helpers import built, docker_source, template, write
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
    image = built(docker_engine, folder, images)
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
    image = built(docker_engine, folder, images)
    shown = docker_engine.docker(
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "cat /etc/kiln/motd /etc/kiln/lines; stat -c %a /etc/kiln/motd",
    )
    assert shown.stdout == "target on Debian\none\ntwo\n640\n"
