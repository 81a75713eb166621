"""The ``ansible-local`` provisioner inside docker builds of the Debian image (python3
and ansible-core installed): what the playbooks wrote is in the committed image, the
uploaded roles and variables are used, the staging folder goes (or stays when asked),
and a failure fails the build and leaves nothing behind."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from ansible_helpers import build, built, committed, docker_source, template, write
from tests.conftest import run_kiln
from tests.dockerd import DockerEngine

from kiln.sdk import DISCONNECTED, BuildError
from kiln.testing import MockCommunicator, MockUi, configure
from kiln_plugin_ansible.ansible_local import AnsibleLocal

PLAYBOOK = """
- hosts: all
  gather_facts: false
  roles: [greeter]
  tasks:
    - copy:
        dest: /etc/kiln-local
        content: "{{ packer_build_name }} via {{ packer_builder_type }}: {{ greeting }}\\n"
"""

ROLE = """
- copy:
    dest: /etc/kiln-role
    content: "role for {{ group_names | join(',') }}\\n"
"""

SECRET = "s3cr3t-pizza-topping"


def local_template(image: str, provisioner: str, head: str = "") -> str:
    """A docker source of ``image`` and one build of it with an ``ansible-local``
    provisioner whose body is ``provisioner``."""
    ref = "source.docker.target"
    return template(docker_source(image), provisioner, ref=ref, head=head, kind="ansible-local")


def shell(engine: DockerEngine, image: str, command: str) -> str:
    """What ``command`` prints in a throwaway container of ``image``."""
    return engine.docker("run", "--rm", image, "sh", "-c", command).stdout


def project(folder: Path, image: str, *options: str) -> Path:
    """The playbook, a role and group variables, and a template running them with
    more ``options`` (lines of the provisioner block)."""
    provisioner = [
        'playbook_file = "play.yml"',
        'role_paths = ["roles/greeter"]',
        'group_vars = "vars"',
        *options,
    ]
    return write(
        folder,
        **{
            "play.yml": PLAYBOOK,
            "roles__greeter__tasks__main.yml": ROLE,
            "vars__all.yml": "greeting: hello from group_vars\n",
            "build.pkr.hcl": local_template(image, "\n".join(provisioner)),
        },
    )


def test_the_committed_image_holds_what_the_playbook_and_its_role_wrote(
    docker_engine: DockerEngine, debian_image: str, folder: Path, images: list[str]
) -> None:
    project(folder, debian_image, 'inventory_groups = ["web", "db"]')
    image = built(docker_engine, folder, images)
    assert shell(docker_engine, image, "cat /etc/kiln-local /etc/kiln-role") == (
        "target via docker: hello from group_vars\nrole for db,web\n"
    )


def test_the_staging_directory_is_removed_after_the_run(
    docker_engine: DockerEngine, debian_image: str, folder: Path, images: list[str]
) -> None:
    project(folder, debian_image)
    image = built(docker_engine, folder, images)
    assert shell(docker_engine, image, "ls -A /tmp") == ""


def test_the_staging_directory_stays_when_asked(
    docker_engine: DockerEngine, debian_image: str, folder: Path, images: list[str]
) -> None:
    project(
        folder,
        debian_image,
        'staging_directory = "/srv/ansible"',
        "clean_staging_directory = false",
    )
    image = built(docker_engine, folder, images)
    listing = shell(docker_engine, image, "cd /srv/ansible && find . -type f | sort")
    assert listing.split() == [
        "./group_vars/all.yml",
        "./kiln-inventory",
        "./play.yml",
        "./roles/greeter/tasks/main.yml",
    ]


def test_several_playbooks_and_a_playbook_dir_run_in_order(
    docker_engine: DockerEngine, debian_image: str, folder: Path, images: list[str]
) -> None:
    step = """
    - hosts: all
      gather_facts: false
      tasks:
        - shell: echo {name} >> /etc/kiln-order
    """
    write(
        folder,
        **{
            "project__first.yml": step.format(name="first"),
            "elsewhere__second.yml": step.format(name="second"),
            "build.pkr.hcl": local_template(
                debian_image,
                """
                playbook_dir   = "project"
                playbook_files = ["project/first.yml", "elsewhere/second.yml"]
                """,
            ),
        },
    )
    image = built(docker_engine, folder, images)
    assert shell(docker_engine, image, "cat /etc/kiln-order") == "first\nsecond\n"


def test_a_playbook_file_deep_in_playbook_dir_is_uploaded_where_it_runs(folder: Path) -> None:
    write(folder, **{"project__plays__site.yml": "- hosts: all\n  tasks: []\n"})
    local = configure(
        AnsibleLocal,
        playbook_dir=str(folder / "project"),
        playbook_file=str(folder / "project" / "plays" / "site.yml"),
        staging_directory="/srv/ansible",
    )
    comm = MockCommunicator()
    local.provision(MockUi(), comm, {})
    (run,) = [command for command in comm.commands if " ansible-playbook " in command]
    assert " ansible-playbook /srv/ansible/site.yml " in run
    assert "/srv/ansible/site.yml" in comm.files  # as Packer does, beside the folder's copy
    assert "/srv/ansible/plays/site.yml" in comm.files


@pytest.mark.parametrize(
    ("failing", "status", "message"),
    [
        (
            "*ansible-galaxy install*",
            DISCONNECTED,
            "Ansible Galaxy: the connection to the machine dropped",
        ),
        (
            "*ansible-galaxy install*",
            127,
            "Ansible Galaxy: ansible-galaxy was not found on the machine",
        ),
        ("*ansible-galaxy install*", 3, "Ansible Galaxy: Non-zero exit status: 3"),
        ("*ansible-playbook*", DISCONNECTED, "Ansible: the connection to the machine dropped"),
        ("*ansible-playbook*", 127, "Ansible: ansible-playbook not found on the target"),
        ("*ansible-playbook*", 2, "Ansible: Non-zero exit status: 2"),
    ],
)
def test_galaxy_and_the_playbook_fail_with_the_same_reasons(
    folder: Path, failing: str, status: int, message: str
) -> None:
    write(
        folder,
        **{"site.yml": "- hosts: all\n  tasks: []\n", "requirements.yml": "roles: []\n"},
    )
    local = configure(
        AnsibleLocal,
        playbook_file=str(folder / "site.yml"),
        galaxy_file=str(folder / "requirements.yml"),
    )
    comm = MockCommunicator().reply(failing, exit_status=status)
    with pytest.raises(BuildError, match=f"^Error executing {message}"):
        local.provision(MockUi(), comm, {})


def test_a_sensitive_extra_variable_stays_off_the_command_line_and_the_output(
    docker_engine: DockerEngine, debian_image: str, folder: Path, images: list[str]
) -> None:
    write(
        folder,
        **{
            "play.yml": """
            - hosts: all
              gather_facts: false
              tasks:
                - shell: ps -eo args > /etc/kiln-ps
                - copy: {dest: /etc/kiln-topping, content: "{{ topping }}\\n"}
            """,
            "build.pkr.hcl": local_template(
                debian_image,
                """
                playbook_file           = "play.yml"
                extra_arguments         = ["--extra-vars", "topping=${var.topping}", "-v"]
                staging_directory       = "/srv/ansible"
                clean_staging_directory = false
                """,
                head=f"""
                variable "topping" {{
                  type      = string
                  default   = "{SECRET}"
                  sensitive = true
                }}
                """,
            ),
        },
    )
    result = build(folder, env={"DOCKER_HOST": docker_engine.host})
    image = committed(result, images)
    assert SECRET not in result.stdout + result.stderr
    assert "--extra-vars @/srv/ansible/" in result.stdout  # the value went through a file
    # Ansible got the value, no process saw it in its arguments, and the private file
    # left with the run although the staging folder stayed
    assert shell(docker_engine, image, "cat /etc/kiln-topping") == f"{SECRET}\n"
    assert SECRET not in shell(docker_engine, image, "cat /etc/kiln-ps")
    assert "extra-vars" not in shell(docker_engine, image, "ls /srv/ansible")


def test_a_failing_task_fails_the_build_and_leaves_no_container(
    docker_engine: DockerEngine, debian_image: str, folder: Path
) -> None:
    write(
        folder,
        **{
            "play.yml": """
            - hosts: all
              gather_facts: false
              tasks:
                - command: /bin/false
            """,
            "build.pkr.hcl": local_template(debian_image, 'playbook_file = "play.yml"'),
        },
    )
    containers, images = set(docker_engine.containers()), set(docker_engine.images())
    result = build(folder, env={"DOCKER_HOST": docker_engine.host})
    assert result.returncode != 0
    assert "Error executing Ansible: Non-zero exit status: 2" in result.stdout + result.stderr
    assert "Removing the staging directory" in result.stdout
    assert set(docker_engine.containers()) == containers
    assert set(docker_engine.images()) == images


def test_ansible_missing_on_the_machine_is_named(
    docker_engine: DockerEngine, busybox_image: str, folder: Path
) -> None:
    write(
        folder,
        **{
            "play.yml": "- hosts: all\n  tasks: []\n",
            "build.pkr.hcl": local_template(busybox_image, 'playbook_file = "play.yml"'),
        },
    )
    result = build(folder, env={"DOCKER_HOST": docker_engine.host})
    assert result.returncode != 0
    assert "ansible-playbook not found on the target" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("setting", "line", "message"),
    [
        ('playbook_file = "missing.yml"', 7, "playbook_file: missing.yml is invalid"),
        ('playbook_file = "play.yml"\nrole_paths = ["play.yml"]', 8, "must point to a folder"),
        ('playbook_file = "play.yml"\ngroup_vars = "nowhere"', 8, "group_vars: nowhere"),
        (
            'playbook_file = "play.yml"\nplaybook_files = ["play.yml"]',
            8,
            "either playbook_file or playbook_files",
        ),
    ],
)
def test_a_bad_option_is_an_error_at_its_line(
    folder: Path, setting: str, line: int, message: str
) -> None:
    write(
        folder,
        **{
            "play.yml": "- hosts: all\n  tasks: []\n",
            "build.pkr.hcl": 'source "null" "n" {\n  communicator = "none"\n}\n'
            + 'build {\n  sources = ["source.null.n"]\n  provisioner "ansible-local" {\n'
            + textwrap.indent(setting, "    ")
            + "\n  }\n}\n",
        },
    )
    result = run_kiln("validate", str(folder), cwd=folder)
    assert result.returncode == 1
    assert f"on build.pkr.hcl line {line}," in result.stdout + result.stderr
    assert message.lower() in (result.stdout + result.stderr).lower()
    assert "Traceback" not in result.stderr
