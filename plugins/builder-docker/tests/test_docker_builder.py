"""The docker builder end to end: ``kiln build`` against a private engine, then the
images, files and containers it leaves (or must not leave) are checked."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest
from docker_helpers import Build, ok
from tests.dockerd import DockerEngine
from tests.faults import FaultReport


def template(folder: Path, body: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "build.pkr.hcl").write_text(textwrap.dedent(body))
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def one_source(folder: Path, options: str, build_body: str = "") -> Path:
    """A template of one docker source ``x`` with ``options``, and a build of it whose
    block holds ``build_body`` (provisioners...)."""

    def block(text: str) -> str:
        return textwrap.indent(textwrap.dedent(text).strip(), "  ") + "\n" if text else ""

    return template(
        folder,
        'source "docker" "x" {\n'
        + block(options)
        + '}\nbuild {\n  sources = ["source.docker.x"]\n'
        + block(build_body)
        + "}\n",
    )


def image_config(engine: DockerEngine, image: str) -> dict[str, object]:
    config: dict[str, object] = json.loads(
        engine.docker("image", "inspect", "--format", "{{json .Config}}", image).stdout
    )
    return config


def test_commit_with_shell_and_file_provisioners(
    docker_engine: DockerEngine, busybox_image: str, docker_build: Build, tmp_path: Path
) -> None:
    folder = template(
        tmp_path / "t",
        f"""
        source "docker" "app" {{
          image   = "{busybox_image}"
          pull    = false
          commit  = true
          changes = ["LABEL org.example.built=yes", "ENV MODE=production"]
        }}
        build {{
          sources = ["source.docker.app"]
          provisioner "shell" {{
            inline = ["mkdir -p /etc/app", "echo 'built in ${{build.ID}}' > /etc/app/motd"]
          }}
          provisioner "file" {{
            source      = "site/"
            destination = "/srv/www"
          }}
          provisioner "file" {{
            source      = "hello.txt"
            destination = "/etc/app/hello.txt"
          }}
          post-processor "docker-tag" {{
            repository = "kiln-test/commit"
            tags       = ["1"]
          }}
        }}
        """,
        **{"hello.txt": "hello\n"},
    )
    (folder / "site").mkdir()
    (folder / "site" / "index.html").write_text("<h1>hi</h1>\n")
    before = set(docker_engine.containers())
    out = ok(docker_build(folder)).stdout
    assert "Imported Docker image: kiln-test/commit:1 with tags kiln-test/commit:1" in out
    assert set(docker_engine.containers()) == before
    shown = docker_engine.docker(
        "run",
        "--rm",
        "kiln-test/commit:1",
        "sh",
        "-c",
        "cat /etc/app/motd /etc/app/hello.txt /srv/www/index.html; echo $MODE",
    ).stdout
    lines = shown.splitlines()
    assert lines[0].startswith("built in ") and len(lines[0]) == len("built in ") + 64
    assert lines[1:] == ["hello", "<h1>hi</h1>", "production"]
    config = image_config(docker_engine, "kiln-test/commit:1")
    assert config["Labels"] == {"org.example.built": "yes"}
    # the base image's CMD, and no ENTRYPOINT (it has none), as it was
    assert config["Cmd"] == ["/bin/sh"]
    assert config.get("Entrypoint") is None
    docker_engine.docker("rmi", "kiln-test/commit:1")


def test_commit_keeps_the_base_entrypoint_and_cmd_unless_changed(
    docker_engine: DockerEngine,
    busybox_entrypoint_image: str,
    busybox_image: str,
    docker_build: Build,
    tmp_path: Path,
) -> None:
    folder = template(
        tmp_path / "t",
        f"""
        source "docker" "keep" {{
          image  = "{busybox_entrypoint_image}"
          pull   = false
          commit = true
        }}
        source "docker" "change" {{
          image   = "{busybox_entrypoint_image}"
          pull    = false
          commit  = true
          changes = ["CMD [\\"changed\\"]"]
        }}
        source "docker" "plain" {{
          image   = "{busybox_image}"
          pull    = false
          commit  = true
          changes = ["ENTRYPOINT [\\"/bin/echo\\", \\"now\\"]"]
        }}
        build {{
          sources = ["source.docker.keep", "source.docker.change", "source.docker.plain"]
          provisioner "shell" {{ inline = ["touch /provisioned"] }}
          post-processor "docker-tag" {{
            repository = "kiln-test/ep-${{source.name}}"
            tags       = ["1"]
          }}
        }}
        """,
    )
    ok(docker_build(folder))
    run = docker_engine.docker
    assert run("run", "--rm", "kiln-test/ep-keep:1").stdout == "entry from-cmd\n"
    assert run("run", "--rm", "kiln-test/ep-keep:1", "x").stdout == "entry x\n"
    assert run("run", "--rm", "kiln-test/ep-change:1").stdout == "entry changed\n"
    # ENTRYPOINT set on an image that had none; CMD is the base's
    assert run("run", "--rm", "kiln-test/ep-plain:1").stdout == "now /bin/sh\n"
    for name in ("keep", "change", "plain"):
        run("rmi", f"kiln-test/ep-{name}:1")


def test_export_produces_a_tar_that_imports(
    docker_engine: DockerEngine, busybox_image: str, docker_build: Build, tmp_path: Path
) -> None:
    folder = one_source(
        tmp_path / "t",
        f"""
        image       = "{busybox_image}"
        pull        = false
        export_path = "out/nested/image.tar"
        """,
        """
        provisioner "shell" { inline = ["echo exported > /exported"] }
        """,
    )
    images = set(docker_engine.images())
    out = ok(docker_build(folder)).stdout
    tar = folder / "out" / "nested" / "image.tar"
    assert f"Exported Docker file: {tar.relative_to(folder)}" in out
    assert set(docker_engine.images()) == images  # an export makes no image
    assert not [p for p in tar.parent.iterdir() if p.name != "image.tar"]  # no .part left
    imported = docker_engine.docker("import", str(tar), "kiln-test/exported:1").stdout.strip()
    assert imported
    shown = docker_engine.docker("run", "--rm", "kiln-test/exported:1", "/bin/cat", "/exported")
    assert shown.stdout == "exported\n"
    docker_engine.docker("rmi", "kiln-test/exported:1")


def test_discard_leaves_no_image_and_no_container(
    docker_engine: DockerEngine, busybox_image: str, docker_build: Build, tmp_path: Path
) -> None:
    folder = one_source(
        tmp_path / "t",
        f"""
        image   = "{busybox_image}"
        pull    = false
        discard = true
        """,
        """
        provisioner "shell" { inline = ["echo provisioned"] }
        """,
    )
    images, containers = set(docker_engine.images()), set(docker_engine.containers())
    volumes = set(docker_engine.volumes())
    out = ok(docker_build(folder)).stdout
    assert "provisioned" in out
    assert set(docker_engine.images()) == images
    assert set(docker_engine.containers()) == containers
    assert set(docker_engine.volumes()) == volumes


def test_pull_from_a_registry_and_generated_data(
    docker_engine: DockerEngine,
    busybox_image: str,
    docker_registry: str,
    docker_build: Build,
    tmp_path: Path,
) -> None:
    remote = f"{docker_registry}/kiln-test/base:pull"
    docker_engine.docker("tag", busybox_image, remote)
    docker_engine.docker("push", remote)
    docker_engine.docker("rmi", remote)
    folder = one_source(
        tmp_path / "t",
        f"""
        image  = "{remote}"
        commit = true
        """,
        """
        provisioner "shell" {
          inline = ["echo source=${build.SourceImageDigest}"]
        }
        post-processor "shell-local" {
          inline = ["echo image=${build.ImageSha256}"]
        }
        """,
    )
    out = ok(docker_build(folder)).stdout
    assert f"Pulling Docker image: {remote}" in out
    digest = docker_engine.docker(
        "image", "inspect", "--format", "{{index .RepoDigests 0}}", remote
    ).stdout.strip()
    assert f"source={digest}" in out
    image_id = out.split("image=sha256:")[1].split()[0]
    assert len(image_id) == 64
    docker_engine.docker("rmi", remote, f"sha256:{image_id}")


def test_a_failed_pull_leaves_nothing(
    docker_engine: DockerEngine,
    docker_registry: str,
    docker_build: Build,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    folder = one_source(
        tmp_path / "t",
        f"""
        image   = "{docker_registry}/kiln-test/missing:1"
        discard = true
        """,
    )
    containers = set(docker_engine.containers())
    temp = tmp_path / "temp"
    temp.mkdir()
    result = docker_build(folder, env={"KILN_TMP_DIR": str(temp)})
    assert result.returncode == 1
    assert f"docker pull {docker_registry}/kiln-test/missing:1 failed" in result.stderr
    assert "manifest unknown" in result.stderr
    leftovers = {
        "containers": sorted(set(docker_engine.containers()) - containers),
        "temp folders": sorted(os.listdir(temp)),
    }
    fault_report.check("docker", "pull: the image is not in the registry", leftovers)


def test_an_image_that_is_not_there_without_pull(
    docker_engine: DockerEngine, docker_build: Build, tmp_path: Path
) -> None:
    folder = one_source(
        tmp_path / "t",
        """
        image   = "kiln-test/not-here:1"
        pull    = false
        discard = true
        """,
    )
    result = docker_build(folder)
    assert result.returncode == 1
    assert "The engine has no image kiln-test/not-here:1" in result.stderr


def test_a_failing_provisioner_leaves_no_container_and_no_image(
    docker_engine: DockerEngine,
    busybox_image: str,
    docker_build: Build,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    folder = one_source(
        tmp_path / "t",
        f"""
        image  = "{busybox_image}"
        pull   = false
        commit = true
        """,
        """
        provisioner "shell" { inline = ["echo about to fail", "exit 7"] }
        """,
    )
    images, containers = set(docker_engine.images()), set(docker_engine.containers())
    result = docker_build(folder)
    assert result.returncode == 1
    assert "non-zero exit status: 7" in result.stderr
    assert "about to fail" in result.stdout
    leftovers = {
        "containers": sorted(set(docker_engine.containers()) - containers),
        "images": sorted(set(docker_engine.images()) - images),
    }
    fault_report.check("docker", "provision: the script exits with 7", leftovers)


def test_parallel_builds(
    docker_engine: DockerEngine, busybox_image: str, docker_build: Build, tmp_path: Path
) -> None:
    names = [f"p{i}" for i in range(6)]
    sources = "\n".join(
        f"""
        source "docker" "{name}" {{
          image  = "{busybox_image}"
          pull   = false
          commit = true
        }}"""
        for name in names
    )
    folder = template(
        tmp_path / "t",
        sources
        + f"""
        build {{
          sources = [{", ".join(f'"source.docker.{n}"' for n in names)}]
          provisioner "shell" {{ inline = ["echo ${{source.name}} > /who", "sleep 1"] }}
          post-processor "docker-tag" {{
            repository = "kiln-test/parallel-${{source.name}}"
            tags       = ["1"]
          }}
        }}
        """,
    )
    containers = set(docker_engine.containers())
    started = time.monotonic()
    ok(docker_build(folder))
    assert time.monotonic() - started < 6 * 1 + 5  # in parallel, not one after another
    for name in names:
        image = f"kiln-test/parallel-{name}:1"
        who = docker_engine.docker("run", "--rm", image, "cat", "/who").stdout
        assert who == f"{name}\n"
        docker_engine.docker("rmi", image)
    assert set(docker_engine.containers()) == containers


def test_exec_user_env_and_upload_owner(
    docker_engine: DockerEngine, busybox_image: str, docker_build: Build, tmp_path: Path
) -> None:
    folder = template(
        tmp_path / "t",
        f"""
        variable "token" {{
          type      = string
          default   = "tok-3141592653"
          sensitive = true
        }}
        source "docker" "x" {{
          image     = "{busybox_image}"
          pull      = false
          commit    = true
          exec_user = "nobody"
          env       = {{ TOKEN = var.token, STAGE = "test" }}
        }}
        build {{
          sources = ["source.docker.x"]
          provisioner "file" {{
            source      = "f.txt"
            destination = "/tmp/up/f.txt"
          }}
          provisioner "shell" {{
            inline = [
              "id -u",
              "echo stage=$STAGE token=$TOKEN",
              "stat -c owner=%u /tmp/up/f.txt",
              "echo appended >> /tmp/up/f.txt",
            ]
          }}
          post-processor "docker-tag" {{
            repository = "kiln-test/user"
            tags       = ["1"]
          }}
        }}
        """,
        **{"f.txt": "f\n"},
    )
    result = docker_build(folder)
    out = ok(result).stdout
    assert "65534" in out and "stage=test token=<sensitive>" in out
    assert "tok-3141592653" not in out + result.stderr
    assert "owner=65534" in out
    env = image_config(docker_engine, "kiln-test/user:1")["Env"]
    assert isinstance(env, list) and not any("TOKEN" in item or "STAGE" in item for item in env)
    docker_engine.docker("rmi", "kiln-test/user:1")


def test_communicator_none(
    docker_engine: DockerEngine, busybox_image: str, docker_build: Build, tmp_path: Path
) -> None:
    folder = one_source(
        tmp_path / "t",
        f"""
        image        = "{busybox_image}"
        pull         = false
        discard      = true
        communicator = "none"
        """,
        """
        provisioner "shell-local" { inline = ["echo local-only"] }
        """,
    )
    assert "local-only" in ok(docker_build(folder)).stdout


@pytest.mark.parametrize(
    ("body", "message", "line"),  # line: where the error points (1: the source block)
    [
        ('image = "x"\n', "set one of commit = true, discard = true or export_path", 1),
        (
            'image = "x"\ncommit = true\ndiscard = true\n',
            "Set only one of commit, discard and export_path",
            4,
        ),
        (
            'image = "x"\ncommit = true\nchanges = ["RUN apt-get update"]\n',
            "'RUN apt-get update' is not an instruction docker applies",
            4,
        ),
        (
            'image = "x"\ndiscard = true\nrun_command = ["-d", "{{.Imag}}"]\n',
            "Unknown placeholder {{.Imag}}",
            4,
        ),
        ('image = "x"\ndiscard = true\nlogin = true\n', "login = true needs login_username", 1),
        ('image = "x"\ndiscard = true\ncomunicator = "none"\n', 'Did you mean "communicator"', 4),
        (
            'image = "x"\ndiscard = true\nenv = { "A-B" = "1" }\n',
            "'A-B' is not a variable name",
            4,
        ),
    ],
)
def test_configuration_errors_name_the_line(
    kiln_validate: Build, tmp_path: Path, body: str, message: str, line: int
) -> None:
    result = kiln_validate(one_source(tmp_path / "t", body))
    assert result.returncode == 1
    assert message in result.stderr
    assert f"on build.pkr.hcl line {line}, column" in result.stderr


def test_docker_missing_is_a_clear_error(
    busybox_image: str, docker_build: Build, tmp_path: Path
) -> None:
    folder = one_source(
        tmp_path / "t",
        f"""
        image       = "{busybox_image}"
        discard     = true
        docker_path = "/nonexistent/docker"
        """,
    )
    result = docker_build(folder)
    assert result.returncode == 1
    assert "The docker command (/nonexistent/docker) was not found" in result.stderr
    assert "Traceback" not in result.stderr
