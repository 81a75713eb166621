"""The ``ansible`` provisioner against the null builder over the loopback sshd: the
"machine being built" is this machine, so what the playbook wrote is checked here."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_helpers import PYTHON_VAR, build, null_source, template, write
from tests.sshd import SSHServer

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: write a file
      copy:
        dest: "{{ out }}"
        content: "built by {{ packer_build_name }} ({{ packer_builder_type }})\\n"
"""


@pytest.mark.parametrize("use_proxy", ["false", "true"])
def test_a_playbook_changes_the_machine(
    sshd: SSHServer, folder: Path, tmp_path: Path, use_proxy: str
) -> None:
    out = tmp_path / "out.txt"
    write(
        folder,
        **{
            "play.yml": PLAYBOOK,
            "build.pkr.hcl": template(
                null_source(sshd),
                f"""
                playbook_file   = "play.yml"
                use_proxy       = {use_proxy}
                extra_arguments = ["-e", "{PYTHON_VAR}", "-e", "out={out}"]
                """,
            ),
        },
    )
    result = build(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_text() == "built by target (null)\n"
