"""The ``ansible`` provisioner run in this process, through the adapter, against the
local communicator ("the machine" is this host): what a run leaves behind on failure
and cancellation, the inventory, galaxy, and an explicit ``command``."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_helpers import PYTHON_VAR, write

from kiln.communicator.local import LocalCommunicator
from kiln.sdk import BuildError, Cancelled, ConfigError, Context
from kiln.testing import MockUi, configure
from kiln_plugin_ansible.inventory import inventory_text
from kiln_plugin_ansible.provisioner import Ansible


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temp folder the run uses (kiln's private folder, the inventory): checked
    empty at the end by the tests that care."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def adapter_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kiln-ansible")]


def provision(folder: Path, ctx: Context | None = None, **options: object) -> MockUi:
    options.setdefault("extra_arguments", ["-e", PYTHON_VAR])
    ansible = configure(Ansible, ctx=ctx, **options)
    ui = MockUi()
    ansible.provision(ui, LocalCommunicator(), {"ConnType": "local", "Host": "localhost"})
    return ui


def test_a_failing_task_fails_the_run_and_leaves_nothing_behind(
    folder: Path, scratch: Path
) -> None:
    write(
        folder,
        **{
            "play.yml": """
            - hosts: all
              gather_facts: false
              tasks:
                - command: "false"
            """
        },
    )
    with pytest.raises(BuildError, match="Non-zero exit status: exit status 2"):
        provision(folder, playbook_file=str(folder / "play.yml"))
    assert adapter_threads() == []
    assert list(scratch.iterdir()) == []


def test_cancelling_stops_ansible_and_the_adapter(folder: Path, scratch: Path) -> None:
    marker = folder / "started"
    write(
        folder,
        **{
            "play.yml": f"""
            - hosts: all
              gather_facts: false
              tasks:
                - shell: touch {marker} && sleep 60
            """
        },
    )
    ctx = Context()
    threading.Thread(target=_cancel_when, args=(marker, ctx), daemon=True).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        provision(folder, ctx, playbook_file=str(folder / "play.yml"))
    assert time.monotonic() - started < 50  # not the task's minute
    assert adapter_threads() == []
    assert list(scratch.iterdir()) == []
    running = subprocess.run(["pgrep", "-f", f"touch {marker}"], capture_output=True)
    assert running.stdout == b""


def _cancel_when(marker: Path, ctx: Context) -> None:
    while not marker.exists():
        time.sleep(0.05)
    ctx.cancel()


def test_the_inventory_lists_the_host_in_each_group_and_the_empty_groups() -> None:
    ansible = configure(
        Ansible,
        playbook_file=__file__,
        host_alias="web1",
        groups=["web", "db"],
        empty_groups=["spare"],
    )
    assert inventory_text(ansible.config, "127.0.0.1", 2222, "alice") == (
        "web1 ansible_host=127.0.0.1 ansible_user=alice ansible_port=2222\n"
        "[web]\n"
        "web1 ansible_host=127.0.0.1 ansible_user=alice ansible_port=2222\n"
        "[db]\n"
        "web1 ansible_host=127.0.0.1 ansible_user=alice ansible_port=2222\n"
        "[spare]\n"
    )


def test_an_unknown_placeholder_in_the_inventory_template_is_an_error_before_the_build() -> None:
    with pytest.raises(ConfigError, match=r"Unknown placeholder \{\{ \.Hots \}\}") as caught:
        configure(Ansible, playbook_file=__file__, inventory_file_template="{{ .Hots }}")
    assert caught.value.option == "inventory_file_template"


def test_a_kept_inventory_stays_in_inventory_directory(folder: Path, scratch: Path) -> None:
    write(folder, **{"play.yml": "- hosts: web\n  gather_facts: false\n  tasks: [ping: {}]\n"})
    inventories = folder / "inventories"
    inventories.mkdir()
    provision(
        folder,
        playbook_file=str(folder / "play.yml"),
        groups=["web"],
        user="builder",
        inventory_directory=str(inventories),
        inventory_file_template="{{ .HostAlias }} ansible_host={{ .Host }} "
        "ansible_user={{ .User }} ansible_port={{ .Port }} "
        f"{PYTHON_VAR}\n",
        keep_inventory_file=True,
    )
    (kept,) = inventories.iterdir()
    lines = kept.read_text().splitlines()
    assert lines[0].startswith("default ansible_host=127.0.0.1 ansible_user=builder ansible_port=")
    assert lines[1:] == ["[web]", lines[0]]


def test_galaxy_installs_a_role_from_a_local_archive(folder: Path, scratch: Path) -> None:
    out = folder / "from-role"
    role = write(
        folder / "role-src" / "greeter",
        **{
            "tasks__main.yml": f'- copy: {{dest: {out}, content: "hello from a role\\n"}}\n',
            "meta__main.yml": "galaxy_info: {author: kiln, description: test, license: MIT}\n",
        },
    )
    archive = folder / "greeter.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(role, arcname="greeter")
    write(
        folder,
        **{
            "requirements.yml": f"roles:\n  - src: file://{archive}\n    name: greeter\n",
            "play.yml": "- hosts: all\n  gather_facts: false\n  roles: [greeter]\n",
        },
    )
    ui = provision(
        folder,
        playbook_file=str(folder / "play.yml"),
        galaxy_file=str(folder / "requirements.yml"),
        roles_path=str(folder / "roles"),
    )
    assert out.read_text() == "hello from a role\n"
    assert (folder / "roles" / "greeter" / "tasks" / "main.yml").exists()
    assert any("Executing Ansible Galaxy:" in m and " install -r " in m for m in ui.messages)


def test_an_explicit_command_is_the_one_run(folder: Path, scratch: Path) -> None:
    calls = folder / "calls"
    wrapper = folder / "my-ansible"
    real = Path(sys.executable).parent / "ansible-playbook"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    write(folder, **{"play.yml": "- hosts: all\n  gather_facts: false\n  tasks: [ping: {}]\n"})
    provision(folder, playbook_file=str(folder / "play.yml"), command=str(wrapper))
    recorded = calls.read_text().splitlines()
    assert recorded[0] == "--version"  # Packer's check runs a command kiln did not install
    assert recorded[1].endswith(str(folder / "play.yml"))


def test_ansibles_output_and_error_lines_are_not_spliced(folder: Path, scratch: Path) -> None:
    """Both streams become messages, each line whole: a half-written output line is not
    joined to an error line that arrives in between."""
    wrapper = folder / "my-ansible"
    real = Path(sys.executable).parent / "ansible-playbook"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = --version ] && exec {real} --version\n'
        "printf 'half ' ; sleep 0.3 ; echo 'an error' >&2 ; sleep 0.3 ; echo 'a line'\n"
    )
    wrapper.chmod(0o755)
    write(folder, **{"play.yml": "- hosts: all\n"})
    ui = provision(folder, playbook_file=str(folder / "play.yml"), command=str(wrapper))
    assert "half a line" in ui.messages
    assert "an error" in ui.messages


def test_a_missing_command_is_an_error_on_the_option(folder: Path) -> None:
    write(folder, **{"play.yml": "- hosts: all\n"})
    with pytest.raises(Exception, match="command:") as caught:
        configure(
            Ansible, playbook_file=str(folder / "play.yml"), command="no-such-ansible-playbook"
        )
    assert getattr(caught.value, "option", None) == "command"


def test_a_folder_given_as_a_playbook_is_said_to_be_one(folder: Path) -> None:
    with pytest.raises(ConfigError, match="must point to a file") as caught:
        configure(Ansible, playbook_files=[str(folder)])
    assert caught.value.option == "playbook_files"


def test_ansible_sees_no_host_key_check_and_the_piped_transfer(folder: Path, scratch: Path) -> None:
    out = folder / "env"
    names = ("ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_TRANSFER_METHOD", "EXTRA")
    content = " ".join(f"{{{{ lookup('env', '{name}') }}}}" for name in names)
    write(
        folder,
        **{
            "play.yml": f"""
            - hosts: all
              gather_facts: false
              tasks:
                - copy: {{dest: {out}, content: "{content}"}}
            """
        },
    )
    provision(folder, playbook_file=str(folder / "play.yml"), ansible_env_vars=["EXTRA=x=1"])
    assert out.read_text() == "False piped x=1"
    assert os.listdir(scratch) == []


def test_ansible_env_vars_see_the_key_file_extra_arguments_see(folder: Path, scratch: Path) -> None:
    out = folder / "seen"
    content = "{{ lookup('env', 'KEY_FILE') }} {{ key_file }}"
    write(
        folder,
        **{
            "play.yml": f"""
            - hosts: all
              gather_facts: false
              tasks:
                - copy: {{dest: {out}, content: "{content}"}}
            """
        },
    )
    provision(
        folder,
        playbook_file=str(folder / "play.yml"),
        ansible_env_vars=["KEY_FILE={{.SSHPrivateKeyFile}}"],
        extra_arguments=["-e", PYTHON_VAR, "-e", "key_file={{.SSHPrivateKeyFile}}"],
    )
    from_env, from_arguments = out.read_text().split(" ")
    assert from_env == from_arguments
    assert Path(from_env).name == "key"  # the adapter's one-time key, in the run's folder
