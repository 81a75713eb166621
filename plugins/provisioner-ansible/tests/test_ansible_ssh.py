"""The ``ansible`` provisioner against the null builder over the loopback sshd: the
"machine being built" is this machine, so what the playbook wrote is checked here."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from ansible_helpers import PYTHON_VAR, build, null_source, template, write
from tests.conftest import KILN, run_kiln
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


SECRET_PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - copy: {dest: "{{ out }}", content: "{{ token }}"}
    - debug: {msg: "the token is {{ token }}"}
    - shell: sleep 1
"""


@pytest.mark.parametrize("use_proxy", ["false", "true"])
def test_a_sensitive_extra_var_reaches_ansible_but_no_argv_output_or_log(
    sshd: SSHServer, folder: Path, tmp_path: Path, use_proxy: str
) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex
    out = tmp_path / "token"
    log = tmp_path / "kiln.log"
    write(
        folder,
        **{
            "play.yml": SECRET_PLAYBOOK,
            "build.pkr.hcl": template(
                null_source(sshd),
                f"""
                playbook_file   = "play.yml"
                use_proxy       = {use_proxy}
                extra_arguments = [
                  "-e", "{PYTHON_VAR}", "-e", "out={out}", "--extra-vars", "token=${{var.token}}",
                ]
                """,
                head='variable "token" {\n  type = string\n  sensitive = true\n}\n',
            ),
        },
    )
    env = {**os.environ, "PKR_VAR_token": secret, "KILN_LOG_PATH": str(log)}
    proc = subprocess.Popen(
        [*KILN, "build", "-color=false", str(folder)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen_in_argv: list[str] = []
    while proc.poll() is None:
        seen_in_argv += [line for line in command_lines() if secret in line]
        time.sleep(0.02)
    output = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == 0, output
    assert out.read_text() == secret  # Ansible had it
    assert seen_in_argv == []
    assert secret not in output
    assert "the token is <sensitive>" in output
    assert secret not in log.read_text()


def command_lines() -> list[str]:
    """Every process's command line, as ``ps`` shows them."""
    lines = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    lines.append(f.read().replace(b"\0", b" ").decode("utf-8", "replace"))
            except OSError:  # it ended
                continue
    return lines


def test_a_missing_playbook_is_an_error_at_its_line(sshd: SSHServer, folder: Path) -> None:
    write(
        folder,
        **{"build.pkr.hcl": template(null_source(sshd), 'playbook_file = "missing.yml"')},
    )
    result = run_kiln("validate", str(folder), cwd=folder)
    assert result.returncode == 1
    line = next(
        n
        for n, text in enumerate((folder / "build.pkr.hcl").read_text().splitlines(), 1)
        if "missing.yml" in text
    )
    assert f"on build.pkr.hcl line {line}, column" in result.stderr
    assert "playbook_file: missing.yml is invalid" in result.stderr
    assert "Traceback" not in result.stderr
