"""Helpers for the ansible plugin's tests: templates of a null source over the loopback
sshd or a docker source, playbooks, and ``kiln build`` run as a subprocess.
(A module name of its own: every plugin's tests folder is on ``sys.path``.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import run_kiln
from tests.dockerd import DockerEngine
from tests.sshd import SSHServer

#: Ansible needs to be told which python the target runs (this machine's, over sshd)
PYTHON_VAR = f"ansible_python_interpreter={sys.executable}"


def null_source(sshd: SSHServer) -> str:
    return sshd.null_source("target")


def docker_source(image: str) -> str:
    return f"""
source "docker" "target" {{
  image  = "{image}"
  pull   = false
  commit = true
}}
"""


def template(
    source: str,
    provisioner: str,
    *,
    ref: str = "source.null.target",
    head: str = "",
    kind: str = "ansible",
) -> str:
    """A whole template: ``head`` (variables...), the source, one build of it with
    ``provisioner`` (the body of a ``provisioner "KIND"`` block)."""
    body = textwrap.indent(textwrap.dedent(provisioner).strip(), "    ")
    return (
        textwrap.dedent(head)
        + source
        + f'\nbuild {{\n  sources = ["{ref}"]\n  provisioner "{kind}" {{\n{body}\n  }}\n}}\n'
    )


def write(folder: Path, **files: str) -> Path:
    """Write dedented ``files`` (name=text; ``__`` in a name is ``/``) into ``folder``."""
    for name, text in files.items():
        target = folder / name.replace("__", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return folder


def build(
    folder: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``kiln build -color=false ARGS... FOLDER`` in ``folder``."""
    return run_kiln("build", "-color=false", *args, str(folder), env=env, cwd=folder)


def built(engine: DockerEngine, folder: Path, images: list[str]) -> str:
    """Run the docker build in ``folder``; it must succeed. The committed image's id
    (added to ``images``, which the ``images`` fixture removes at the end)."""
    return committed(build(folder, env={"DOCKER_HOST": engine.host}), images)


def committed(result: subprocess.CompletedProcess[str], images: list[str]) -> str:
    """The id of the image the build of ``result`` committed (added to ``images``); the
    build must have succeeded."""
    assert result.returncode == 0, result.stdout + result.stderr
    for line in result.stdout.splitlines():
        if "Image ID: sha256:" in line:
            image = line.split("ID: ")[1].strip()
            images.append(image)
            return image
    raise AssertionError(f"no image in the output:\n{result.stdout}")
