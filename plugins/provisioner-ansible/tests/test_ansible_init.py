"""``kiln init`` installs the locked plugin with its ansible-core, and a build runs the
``ansible-playbook`` installed in the plugin's folder (not the project's environment's)."""

from __future__ import annotations

from pathlib import Path

from ansible_helpers import PYTHON_VAR, null_source, template, write
from tests.conftest import run_kiln
from tests.sshd import SSHServer

PLUGINS = """
packer {
  required_plugins {
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = ">= 0.1.0"
    }
  }
}
"""


def test_kiln_init_installs_an_ansible_playbook_that_builds(
    sshd: SSHServer, folder: Path, tmp_path: Path, published_plugins: str
) -> None:
    out = tmp_path / "out.txt"
    write(
        folder,
        **{
            "plugins.pkr.hcl": PLUGINS,
            "play.yml": f"""
            - hosts: all
              gather_facts: false
              tasks:
                - copy: {{dest: {out}, content: "from the installed ansible\\n"}}
            """,
            "build.pkr.hcl": template(
                null_source(sshd),
                f"""
                playbook_file   = "play.yml"
                extra_arguments = ["-e", "{PYTHON_VAR}"]
                """,
            ),
        },
    )
    plugins = tmp_path / "plugins"
    env = {
        "KILN_INDEX_URL": published_plugins,
        "KILN_PLUGIN_PATH": str(plugins),
        "PATH": "/usr/bin:/bin",  # no ansible-playbook but the plugin's
    }
    for command in (["init"], ["build", "-color=false"]):
        result = run_kiln(*command, str(folder), env=env, cwd=folder)
        assert result.returncode == 0, result.stdout + result.stderr
    assert f"Executing Ansible: {plugins}" in result.stdout
    assert "/bin/ansible-playbook " in result.stdout
    assert out.read_text() == "from the installed ansible\n"
