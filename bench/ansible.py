"""Ansible: ``kiln build`` against ``packer build`` (1.6.6) of a docker build provisioned
by the ``ansible`` provisioner, with a playbook of one task and one of twenty.

One private engine (docker.py's) holds the Debian image (``scripts/make-debian-image``:
debootstrap's minbase with python3; cached under ~/.cache/kiln-test after the first
run) for both rows. Both tools run the same template (a docker source, ``pull =
false``, ``commit = true``, one ``ansible`` provisioner) and the same
``ansible-playbook``, the project's virtual environment's (first on ``PATH``). Each
connects Ansible to the container through its own SSH adapter: kiln's serves ed25519
keys, Packer's offers only ssh-rsa, so Packer runs with
``ANSIBLE_SSH_ARGS=-o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedKeyTypes=+ssh-rsa``
(the setting its users need with a current OpenSSH; it replaces Ansible's default SSH
arguments, connection sharing among them).

Before every run, untimed, the image the last build committed is checked to hold one
file per task, then removed with the disk synced (docker.py's check: one image per
build, no container left). After the timed runs, one more build of each tool, untimed,
runs with a ``docker`` on ``PATH`` that logs each command, and the notes count them:
where the time goes is mostly in ``docker exec`` calls.

Target: kiln at half of Packer's time or better (its adapter is known to be 5 to 10
times slower than a direct connection: hashicorp/packer-plugin-ansible#265).
"""

from __future__ import annotations

import collections
import functools
import os
import shutil
from pathlib import Path

from common import (
    VENV_BIN,
    BenchError,
    Benchmark,
    Options,
    Row,
    build_commands,
    median_times,
    run_checked,
)
from docker import RemoveBuilt, build_env, docker_cli, private_engine
from tests.dockerd import DEBIAN_TAG, DockerEngine, make_debian_image

TARGET = 0.5
TASKS = (1, 20)
PACKER_SSH_ARGS = "-o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedKeyTypes=+ssh-rsa"
#: where the playbooks write, one file per task (empty in the image)
OUT = "/opt"

TEMPLATE = """
source "docker" "debian" {{
  image  = "{image}"
  pull   = false
  commit = true
}}

build {{
  sources = ["source.docker.debian"]

  provisioner "ansible" {{
    playbook_file = "{playbook}"
  }}
}}
"""


def _playbook(tasks: int) -> str:
    """A playbook of ``tasks`` tasks, each copying a line to a file of its own in OUT
    (no fact gathering: the tasks are what is measured)."""
    lines = ["- hosts: all", "  gather_facts: false", "  tasks:"]
    for index in range(tasks):
        content = f"task {index} of {{{{ packer_build_name }}}}\\n"
        lines.append(f'    - copy: {{dest: {OUT}/bench-{index}, content: "{content}"}}')
    return "\n".join(lines) + "\n"


class _CheckAndRemove(RemoveBuilt):
    """docker.py's untimed reset, after checking that the committed image holds what
    the playbook wrote."""

    def __init__(self, engine: DockerEngine, base: str, files: int) -> None:
        super().__init__(engine, base, 1)
        self.files = files

    def __call__(self) -> None:
        for image in self.engine.images():
            if image == self.base:
                continue
            out = docker_cli(self.engine, "run", "--rm", "--entrypoint", "ls", image, OUT)
            if len(out.split()) != self.files:
                raise BenchError(
                    f"a build's image holds {out.split()} in {OUT}, not {self.files} files"
                )
        super().__call__()


def _envs(engine: DockerEngine) -> tuple[dict[str, str], dict[str, str]]:
    """kiln's and Packer's environments: the engine, the venv's ansible-playbook first
    on PATH, and Packer's SSH arguments."""
    base = build_env(engine)
    base["PATH"] = os.pathsep.join([str(VENV_BIN), base["PATH"]])
    base["ANSIBLE_NOCOLOR"] = "1"
    return base, {**base, "ANSIBLE_SSH_ARGS": PACKER_SSH_ARGS}


def _docker_counts(
    argv: list[str], folder: Path, env: dict[str, str], reset: _CheckAndRemove
) -> collections.Counter[str]:
    """The docker commands (by subcommand) one build runs, through a ``docker`` on
    PATH that logs them (after ``reset`` ran: the engine holds no built image)."""
    real = shutil.which("docker", path=env["PATH"])
    if real is None:
        raise BenchError("the docker CLI is missing: run scripts/bootstrap test")
    shim = folder / "shim"
    shim.mkdir(exist_ok=True)
    log = folder / "docker.log"
    log.unlink(missing_ok=True)
    script = shim / "docker"
    script.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {real} "$@"\n')
    script.chmod(0o755)
    run_checked(argv, folder, {**env, "PATH": os.pathsep.join([str(shim), env["PATH"]])})
    reset()  # checks the build's image, and removes it
    return collections.Counter(log.read_text().split())


def ansible_builds(options: Options) -> list[Row]:
    if not (VENV_BIN / "ansible-playbook").exists():
        raise BenchError(
            f"{VENV_BIN / 'ansible-playbook'} is missing: run scripts/bootstrap test "
            "(ansible-core is in the test set)"
        )
    rows = []
    with private_engine(lambda engine: make_debian_image(engine, DEBIAN_TAG)) as (
        engine,
        base,
        folder,
    ):
        kiln_env, packer_env = _envs(engine)
        counts: dict[int, tuple[collections.Counter[str], collections.Counter[str]]] = {}
        for tasks in TASKS:
            work = folder / f"tasks-{tasks}"
            work.mkdir()
            playbook = work / "play.yml"
            playbook.write_text(_playbook(tasks))
            template = work / "bench.pkr.hcl"
            template.write_text(TEMPLATE.format(image=DEBIAN_TAG, playbook=playbook))
            kiln, packer = build_commands(template)
            reset = _CheckAndRemove(engine, base, tasks)
            kiln_time, packer_time = median_times(
                [
                    functools.partial(run_checked, kiln, work, kiln_env),
                    functools.partial(run_checked, packer, work, packer_env),
                ],
                options,
                reset,
            )
            reset()  # checks the last run too
            counts[tasks] = (
                _docker_counts(kiln, work, kiln_env, reset),
                _docker_counts(packer, work, packer_env, reset),
            )
            name = "ansible-1-task" if tasks == 1 else f"ansible-{tasks}-tasks"
            row = Row(name, kiln_time, packer_time, TARGET)
            kiln_calls, packer_calls = counts[tasks]
            row.notes.append(
                f"docker commands per build: kiln {sum(kiln_calls.values())} "
                f"({kiln_calls['exec']} exec), Packer {sum(packer_calls.values())} "
                f"({packer_calls['exec']} exec)"
            )
            rows.append(row)
    first, last = TASKS[0], TASKS[-1]
    per_task = [
        (counts[last][tool]["exec"] - counts[first][tool]["exec"]) / (last - first)
        for tool in (0, 1)
    ]
    rows[-1].notes.append(
        f"docker exec per extra task: kiln {per_task[0]:.1f}, Packer {per_task[1]:.1f}"
    )
    return rows


BENCHMARKS = [
    Benchmark(
        "ansible",
        "kiln vs packer build of a docker build provisioned by ansible: 1 and 20 tasks",
        ansible_builds,
    ),
]
