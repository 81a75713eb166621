"""The docker post-processors (docker-import, docker-tag, docker-push, docker-save) and
registry logins, through ``kiln build`` against the tests' private engine, a registry on
loopback and one that wants a login (tests/dockerd.py). Every image a test makes is
removed when it ends."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_helpers import (
    Engine,
    artifacts,
    calls,
    failed,
    files_under,
    manifest_digest,
    ok,
    own_login,
    push_with_own_login,
    snapshot,
    spy_docker,
    write,
)
from tests.conftest import run_kiln
from tests.dockerd import AuthRegistry, DockerEngine


@pytest.fixture
def name() -> str:
    """A repository name of this test's own (the engine and registries are shared)."""
    return f"pp-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The folder the template is in and kiln builds in."""
    path = tmp_path / "build"
    path.mkdir()
    return path


COMMIT_SOURCE = """
source "docker" "commit" {
  image   = "@IMAGE@"
  pull    = false
  commit  = true
  changes = ["CMD [\\"/bin/cat\\", \\"/etc/kiln\\"]"]
}
"""


def commit_build(post_processors: str, content: str = "from-kiln") -> str:
    """A build that commits a busybox container holding ``/etc/kiln`` (its CMD prints
    it), then runs ``post_processors`` (a ``post-processors`` block's body)."""
    body = textwrap.indent(textwrap.dedent(post_processors).strip(), "    ")
    return (
        textwrap.dedent(COMMIT_SOURCE)
        + "\nbuild {\n"
        + '  sources = ["source.docker.commit"]\n'
        + '  provisioner "shell" {\n'
        + f'    inline = ["echo {content} > /etc/kiln"]\n'
        + "  }\n"
        + "  post-processors {\n"
        + body
        + "\n  }\n}\n"
    )


def run_image(engine: Engine, reference: str) -> str:
    """What a container of ``reference`` prints with its own CMD."""
    return engine.docker("run", "--rm", reference).stdout


# -- docker-import -----------------------------------------------------------------------

EXPORT_IMPORT = """
source "docker" "export" {
  image       = "@IMAGE@"
  pull        = false
  export_path = "out/container.tar"
}

build {
  sources = ["source.docker.export"]
  provisioner "shell" {
    inline = ["echo imported-by-kiln > /etc/kiln"]
  }
  post-processors {
    post-processor "docker-import" {
      repository = "kiln/@NAME@"
      tag        = "imported"
      changes    = ["LABEL x=y", "CMD [\\"/bin/cat\\", \\"/etc/kiln\\"]"]
      @KEEP@
    }
  }
}
"""


def test_docker_import_makes_an_image_of_the_export_and_removes_the_tar(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    write(folder, "build.pkr.hcl", EXPORT_IMPORT, IMAGE=busybox_image, NAME=name, KEEP="")
    out = ok(engine.build(folder)).stdout
    image = f"kiln/{name}:imported"
    engine.forget(image)

    assert json.loads(engine.inspect(image, "{{json .Config.Labels}}")) == {"x": "y"}
    assert json.loads(engine.inspect(image, "{{json .Config.Cmd}}")) == ["/bin/cat", "/etc/kiln"]
    assert run_image(engine, image) == "imported-by-kiln\n"
    # docker-import does not keep its input: the export goes, and leaves nothing behind
    assert files_under(folder / "out") == []
    assert artifacts(out) == [f"Imported Docker image: {image}"]


def test_keep_input_artifact_keeps_the_export_next_to_the_image(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    keep = "keep_input_artifact = true"
    write(folder, "build.pkr.hcl", EXPORT_IMPORT, IMAGE=busybox_image, NAME=name, KEEP=keep)
    out = ok(engine.build(folder)).stdout
    image = f"kiln/{name}:imported"
    engine.forget(image)

    assert run_image(engine, image) == "imported-by-kiln\n"
    assert files_under(folder / "out") == ["container.tar"]
    with tarfile.open(folder / "out" / "container.tar") as tar:
        member = tar.extractfile("etc/kiln")
        assert member is not None
        assert member.read() == b"imported-by-kiln\n"
    assert artifacts(out) == [
        "Exported Docker file: out/container.tar",
        f"Imported Docker image: {image}",
    ]


def test_docker_import_takes_an_artifice_file(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    with tarfile.open(folder / "rootfs.tar", "w") as tar:
        info = tarfile.TarInfo("etc/kiln")
        data = b"from-artifice\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    write(
        folder,
        "build.pkr.hcl",
        """
        source "docker" "discard" {
          image   = "@IMAGE@"
          pull    = false
          discard = true
        }

        build {
          sources = ["source.docker.discard"]
          post-processors {
            post-processor "artifice" {
              files = ["rootfs.tar"]
            }
            post-processor "docker-import" {
              repository = "kiln/@NAME@"
              tag        = "artifice"
              keep_input_artifact = true
            }
          }
        }
        """,
        IMAGE=busybox_image,
        NAME=name,
    )
    out = ok(engine.build(folder)).stdout
    image = f"kiln/{name}:artifice"
    engine.forget(image)
    container = engine.docker("create", image, "/none").stdout.strip()
    try:
        copied = engine.docker("cp", f"{container}:/etc/kiln", "-").stdout
    finally:
        engine.docker("rm", container)
    assert "from-artifice" in copied
    assert artifacts(out)[-1] == f"Imported Docker image: {image}"
    assert (folder / "rootfs.tar").exists()


# -- docker-tag and docker-push ----------------------------------------------------------


def test_tagged_image_is_pushed_under_every_tag_and_pulls_back(
    engine: Engine, folder: Path, name: str, busybox_image: str, docker_registry: str
) -> None:
    repo = f"{docker_registry}/kiln/{name}"
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "{repo}"
          tags       = ["a", "b"]
        }}
        post-processor "docker-push" {{}}
    """
    template = commit_build(post_processors, content="pushed-by-kiln")
    write(folder, "build.pkr.hcl", template, IMAGE=busybox_image)
    out = ok(engine.build(folder)).stdout
    engine.forget(f"{repo}:a", f"{repo}:b")

    image_id = engine.inspect(f"{repo}:a", "{{.Id}}")
    assert engine.inspect(f"{repo}:b", "{{.Id}}") == image_id
    assert engine.made == [image_id, f"{repo}:a", f"{repo}:b"]  # what the build said it made
    assert artifacts(out) == [
        f"Imported Docker image: {image_id}",
        f"Imported Docker image: {repo}:b with tags {repo}:a {repo}:b",
    ]
    with urllib.request.urlopen(f"http://{docker_registry}/v2/kiln/{name}/tags/list") as r:
        assert sorted(json.load(r)["tags"]) == ["a", "b"]

    engine.docker("rmi", f"{repo}:a", f"{repo}:b")
    assert not engine.exists(image_id)
    engine.docker("pull", f"{repo}:a")
    engine.docker("pull", f"{repo}:b")
    assert engine.inspect(f"{repo}:b", "{{.Id}}") == engine.inspect(f"{repo}:a", "{{.Id}}")
    assert run_image(engine, f"{repo}:a") == "pushed-by-kiln\n"


def test_docker_push_records_the_digest_the_registry_serves(
    engine: Engine, folder: Path, name: str, busybox_image: str, docker_registry: str
) -> None:
    # a later post-processor sees what docker-push recorded on its artifact: the
    # manifest post-processor's custom_data reads the artifact's generated data
    repo = f"{docker_registry}/kiln/{name}"
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "{repo}"
          tags       = ["d"]
        }}
        post-processor "docker-push" {{}}
        post-processor "manifest" {{
          output      = "manifest.json"
          custom_data = {{
            digest = "{{{{.Digest}}}}"
            image  = "{{{{.ImageSha256}}}}"
          }}
        }}
        post-processor "shell-local" {{
          inline = ["echo hcl-digest=${{build.Digest}}"]
        }}
    """
    write(folder, "build.pkr.hcl", commit_build(post_processors), IMAGE=busybox_image)
    out = ok(engine.build(folder)).stdout
    engine.forget(f"{repo}:d")

    served = manifest_digest(docker_registry, f"kiln/{name}", "d")
    assert served.startswith("sha256:")
    custom = json.loads((folder / "manifest.json").read_text())["builds"][0]["custom_data"]
    assert custom == {"digest": served, "image": engine.inspect(f"{repo}:d", "{{.Id}}")}
    assert f"hcl-digest={served}" in out  # and HCL templates as build.Digest
    assert engine.inspect(f"{repo}:d", "{{index .RepoDigests 0}}") == f"{repo}@{served}"


# -- docker-save -------------------------------------------------------------------------


def test_docker_save_writes_a_tar_that_docker_load_restores(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "kiln/{name}"
          tags       = ["saved"]
        }}
        post-processor "docker-save" {{
          path = "images/saved.tar"
        }}
    """
    template = commit_build(post_processors, content="saved-by-kiln")
    write(folder, "build.pkr.hcl", template, IMAGE=busybox_image)
    out = ok(engine.build(folder)).stdout
    image = f"kiln/{name}:saved"
    engine.forget(image)
    image_id = engine.inspect(image, "{{.Id}}")

    assert files_under(folder / "images") == ["saved.tar"]  # no partial file beside it
    assert artifacts(out)[-1] == f"Imported Docker image: {image} with tags {image}"
    engine.docker("rmi", image)
    assert not engine.exists(image_id)
    loaded = engine.docker("load", "--input", str(folder / "images" / "saved.tar")).stdout
    assert f"Loaded image: {image}" in loaded
    assert engine.inspect(image, "{{.Id}}") == image_id
    assert run_image(engine, image) == "saved-by-kiln\n"


def test_a_failed_docker_save_leaves_no_file(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    # the tag is gone (removed behind the build's back) when docker-save runs
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "kiln/{name}"
          tags       = ["gone"]
        }}
        post-processor "shell-local" {{
          inline = ["docker rmi kiln/{name}:gone"]
        }}
        post-processor "docker-save" {{
          path = "images/gone.tar"
        }}
    """
    write(folder, "build.pkr.hcl", commit_build(post_processors), IMAGE=busybox_image)
    output = failed(engine.build(folder))
    assert f"docker save kiln/{name}:gone failed" in output
    assert "reference does not exist" in output
    assert not (folder / "images").exists() or files_under(folder / "images") == []


# -- docker-tag's options ----------------------------------------------------------------


def test_deprecated_tag_list_still_tags_with_a_warning(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "kiln/{name}"
          tag        = ["one", "two"]
        }}
    """
    write(folder, "build.pkr.hcl", commit_build(post_processors), IMAGE=busybox_image)
    proc = ok(engine.build(folder))
    engine.forget(f"kiln/{name}:one", f"kiln/{name}:two")
    image_id = engine.made[0]
    assert engine.inspect(f"kiln/{name}:one", "{{.Id}}") == image_id
    assert engine.inspect(f"kiln/{name}:two", "{{.Id}}") == image_id
    assert 'replaced with "tags"' in proc.stdout + proc.stderr
    assert artifacts(proc.stdout)[-1] == (
        f"Imported Docker image: kiln/{name}:two with tags kiln/{name}:one kiln/{name}:two"
    )


def test_legacy_json_tag_may_be_a_single_string(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    template = {
        "builders": [{"type": "docker", "image": busybox_image, "pull": False, "commit": True}],
        "provisioners": [{"type": "shell", "inline": ["echo from-json > /etc/kiln"]}],
        "post-processors": [
            [
                {"type": "docker-tag", "repository": f"kiln/{name}", "tag": "latest"},
                {"type": "docker-tag", "repository": f"kiln/{name}", "tags": "also"},
            ]
        ],
    }
    path = folder / "template.json"
    path.write_text(json.dumps(template, indent=2))
    out = ok(engine.build(path)).stdout
    engine.forget(f"kiln/{name}:latest", f"kiln/{name}:also")
    image_id = engine.made[0]
    assert engine.inspect(f"kiln/{name}:latest", "{{.Id}}") == image_id
    assert engine.inspect(f"kiln/{name}:also", "{{.Id}}") == image_id
    assert engine.docker("run", "--rm", f"kiln/{name}:latest", "cat", "/etc/kiln").stdout == (
        "from-json\n"
    )
    assert (
        artifacts(out)[-1] == f"Imported Docker image: kiln/{name}:also with tags kiln/{name}:also"
    )


def test_tag_and_tags_together_give_every_tag_as_packer_does(
    engine: Engine, folder: Path, name: str, busybox_image: str
) -> None:
    # Packer 1.6.6 (and the docker plugin since) appends the deprecated tag list to
    # tags: docker-tag's Configure does Tags = append(Tags, Tag...)
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "kiln/{name}"
          tags       = ["new"]
          tag        = ["old"]
        }}
    """
    write(folder, "build.pkr.hcl", commit_build(post_processors), IMAGE=busybox_image)
    proc = engine.build(folder)
    engine.forget(f"kiln/{name}:new", f"kiln/{name}:old")
    ok(proc)
    assert artifacts(proc.stdout)[-1] == (
        f"Imported Docker image: kiln/{name}:old with tags kiln/{name}:new kiln/{name}:old"
    )


# -- chains that cannot work -------------------------------------------------------------

WRONG_CHAINS = {
    "import-a-commit": (
        "commit = true",
        'post-processor "docker-import" {\n  repository = "kiln/@NAME@"\n}',
        [
            "Unknown artifact type: packer.post-processor.docker-import",
            "docker-import post-processor can only take a docker build's export_path file",
        ],
    ),
    "push-untagged": (
        "commit = true",
        'post-processor "docker-push" {}',
        ["has no repository to push to: put a docker-tag post-processor before docker-push"],
    ),
    "tag-a-discard": (
        "discard = true",
        'post-processor "docker-tag" {\n  repository = "kiln/@NAME@"\n}',
        [
            "Unknown artifact type: packer.docker",
            "docker-tag post-processor can only take images",
        ],
    ),
    "import-a-discard": (
        "discard = true",
        'post-processor "docker-import" {\n  repository = "kiln/@NAME@"\n}',
        ["There is no file to import: the docker build discarded its container"],
    ),
    "save-an-export": (
        'export_path = "container.tar"',
        'post-processor "docker-save" {\n  path = "image.tar"\n}',
        ["Unknown artifact type: packer.docker", "docker-save post-processor can only take"],
    ),
}


@pytest.mark.parametrize("chain", list(WRONG_CHAINS))
def test_a_chain_that_cannot_work_fails_saying_why(
    engine: Engine, folder: Path, name: str, busybox_image: str, chain: str
) -> None:
    output, post_processor, messages = WRONG_CHAINS[chain]
    template = f"""
        source "docker" "c" {{
          image = "@IMAGE@"
          pull  = false
          {output}
        }}

        build {{
          sources = ["source.docker.c"]
          {textwrap.indent(post_processor, "          ").strip()}
        }}
    """
    write(folder, "build.pkr.hcl", template, IMAGE=busybox_image, NAME=name)
    containers = set(engine.engine.containers())
    proc = engine.build(folder)
    output_text = failed(proc)
    assert proc.returncode == 1
    for message in messages:
        assert message in proc.stderr, output_text
    assert "Build 'docker.c' errored" in proc.stderr
    assert set(engine.engine.containers()) == containers
    assert engine.docker("images", "-q", f"kiln/{name}").stdout == ""
    assert not (folder / "image.tar").exists()


@pytest.mark.parametrize("missing", ["login_username", "login_password"])
def test_docker_push_login_without_credentials_fails_validation(folder: Path, missing: str) -> None:
    given = {"login_username": "kiln", "login_password": "secret"}
    del given[missing]
    options = "".join(f'  {key} = "{value}"\n' for key, value in given.items())
    template = commit_build(
        'post-processor "docker-tag" {\n  repository = "kiln/never"\n}\n'
        f'post-processor "docker-push" {{\n  login = true\n{options}}}'
    )
    write(folder, "build.pkr.hcl", template, IMAGE="local/busybox:test")
    proc = run_kiln("validate", str(folder), cwd=folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f'Invalid "{missing}"' in proc.stderr
    assert "login = true needs login_username and login_password." in proc.stderr
    assert "secret" not in proc.stdout + proc.stderr


# -- registry logins ---------------------------------------------------------------------

LOGIN_VARIABLE = """
variable "registry_password" {
  type = string
}
"""


@pytest.fixture(scope="module")
def private_image(
    docker_engine: DockerEngine,
    busybox_image: str,
    docker_auth_registry: AuthRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """An image only in the registry that wants a login (pushed with a login of the
    test's own, which kiln never sees)."""
    reference = f"{docker_auth_registry.address}/kiln/base-{uuid.uuid4().hex[:8]}:1"
    config = tmp_path_factory.mktemp("setup-docker-config")
    push_with_own_login(docker_engine, docker_auth_registry, busybox_image, reference, config)
    yield reference
    docker_engine.docker("rmi", "--force", reference, check=False)


@pytest.fixture
def remote_only(private_image: str, engine: Engine) -> str:
    """``private_image``, not in the engine: a build has to pull it."""
    engine.docker("rmi", "--force", private_image, check=False)
    assert not engine.exists(private_image)
    engine.forget(private_image)
    return private_image


@pytest.fixture
def user_home(tmp_path: Path) -> dict[str, str | None]:
    """An empty HOME, no DOCKER_CONFIG and an empty TMPDIR for the kiln process: the
    user's docker configuration is ``HOME/.docker``, and temporary files go to TMPDIR."""
    for sub in ("home", "tmp"):
        (tmp_path / sub).mkdir()
    return {
        "HOME": str(tmp_path / "home"),
        "DOCKER_CONFIG": None,
        "TMPDIR": str(tmp_path / "tmp"),
        "KILN_TMP_DIR": None,
        "PACKER_TMP_DIR": None,
        "KILN_LOG": "1",
    }


def pull_with_login(registry: AuthRegistry, image: str, name: str) -> str:
    """A build that pulls ``image`` with a login (``var.registry_password``), commits
    and tags the result ``kiln/NAME:pulled``."""
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "kiln/{name}"
          tags       = ["pulled"]
        }}
    """
    return LOGIN_VARIABLE + commit_build(post_processors, content="built-on-private").replace(
        "  pull    = false\n",
        f"""  pull           = true
  login          = true
  login_server   = "{registry.address}"
  login_username = "{registry.username}"
  login_password = var.registry_password
""",
    ).replace("@IMAGE@", image)


@pytest.mark.parametrize("user_config", ["home", "DOCKER_CONFIG", "context"])
def test_login_pulls_from_a_private_registry_and_leaves_no_trace(
    engine: Engine,
    folder: Path,
    tmp_path: Path,
    name: str,
    docker_auth_registry: AuthRegistry,
    remote_only: str,
    user_home: dict[str, str | None],
    user_config: str,
) -> None:
    registry = docker_auth_registry
    env = dict(user_home)
    spy, log = spy_docker(tmp_path)
    config_dir = tmp_path / "user-docker-config"
    config_dir.mkdir()
    if user_config == "DOCKER_CONFIG":
        # a configuration with a login of the user's own, for another registry
        auths = {"auths": {"registry.example": {"auth": "dTpw"}}}
        (config_dir / "config.json").write_text(json.dumps(auths, indent="\t"))
        env["DOCKER_CONFIG"] = str(config_dir)
    elif user_config == "context":
        # the engine is the user's current docker context, not DOCKER_HOST
        config = ("--config", str(config_dir))
        engine.docker(*config, "context", "create", "kiln-test", "--docker", f"host={engine.host}")
        engine.docker(*config, "context", "use", "kiln-test")
        env["DOCKER_CONFIG"] = str(config_dir)
        env["DOCKER_HOST"] = None
    before = snapshot(config_dir)
    template = pull_with_login(registry, remote_only, name)
    template = template.replace(
        "  commit  = true\n", f'  commit  = true\n  docker_path = "{spy}"\n'
    )
    write(folder, "build.pkr.hcl", template)
    write(folder, "secret.auto.pkrvars.hcl", f'registry_password = "{registry.password}"\n')
    proc = engine.build(folder, env=env)
    engine.forget(f"kiln/{name}:pulled")
    ok(proc)

    # it was pulled with the login, and built on
    assert f"Pulling Docker image: {remote_only}" in proc.stdout
    assert run_image(engine, f"kiln/{name}:pulled") == "built-on-private\n"
    # the password shows nowhere: not in the output, the docker commands' arguments
    # or their environment (it goes to docker login on its standard input)
    assert registry.password not in proc.stdout + proc.stderr
    assert registry.password not in log.read_text()
    seen = calls(log)
    logins = [call for call in seen if call.args[0] == "login"]
    assert len(logins) == 1, seen
    login = logins[0]
    assert login.args == [
        "login",
        "--username",
        registry.username,
        "--password-stdin",
        registry.address,
    ]
    # the login lived in a private configuration under TMPDIR, only the login and
    # the pull used it, and it is gone
    private = login.config
    assert private.startswith(str(user_home["TMPDIR"]) + "/")
    assert [call.args[0] for call in seen if call.config == private] == ["login", "pull"]
    assert files_under(Path(str(user_home["TMPDIR"]))) == []
    if user_config == "context":
        # with the context's engine: the private configuration has no contexts
        assert {call.host for call in seen if call.config == private} == {engine.host}
    # the user's own configuration is untouched
    assert files_under(Path(str(user_home["HOME"]))) == []
    assert snapshot(config_dir) == before


def test_a_wrong_password_fails_the_login_clearly_and_leaves_nothing(
    engine: Engine,
    folder: Path,
    name: str,
    docker_auth_registry: AuthRegistry,
    remote_only: str,
    user_home: dict[str, str | None],
) -> None:
    wrong = "not-" + docker_auth_registry.password[::-1]
    template = pull_with_login(docker_auth_registry, remote_only, name)
    write(folder, "build.pkr.hcl", template)
    containers, images = set(engine.engine.containers()), set(engine.engine.images())
    proc = engine.build(folder, "-var", f"registry_password={wrong}", env=user_home)
    output = failed(proc)

    assert "Build 'docker.commit' errored" in proc.stderr
    registry = docker_auth_registry
    assert f"Login to {registry.address} as {registry.username} failed" in proc.stderr
    assert "401 Unauthorized" in proc.stderr
    assert wrong not in output
    assert set(engine.engine.containers()) == containers
    assert set(engine.engine.images()) == images  # in whatever order docker lists them
    assert files_under(Path(str(user_home["TMPDIR"]))) == []
    assert files_under(Path(str(user_home["HOME"]))) == []


def push_template(registry: AuthRegistry, name: str, login: bool) -> str:
    login_options = f"""
          login          = true
          login_server   = "{registry.address}"
          login_username = "{registry.username}"
          login_password = var.registry_password
    """
    post_processors = f"""
        post-processor "docker-tag" {{
          repository = "{registry.address}/kiln/{name}"
          tags       = ["v1"]
        }}
        post-processor "docker-push" {{
          {login_options.strip() if login else ""}
        }}
    """
    return LOGIN_VARIABLE + commit_build(post_processors, content="pushed-with-login")


def test_docker_push_logs_in_to_a_private_registry(
    engine: Engine,
    folder: Path,
    name: str,
    busybox_image: str,
    docker_auth_registry: AuthRegistry,
    user_home: dict[str, str | None],
) -> None:
    registry = docker_auth_registry
    write(folder, "build.pkr.hcl", push_template(registry, name, login=True), IMAGE=busybox_image)
    write(folder, "secret.auto.pkrvars.hcl", f'registry_password = "{registry.password}"\n')
    proc = engine.build(folder, env=user_home)
    reference = f"{registry.address}/kiln/{name}:v1"
    engine.forget(reference)
    ok(proc)

    served = manifest_digest(
        registry.address, f"kiln/{name}", "v1", auth=(registry.username, registry.password)
    )
    assert f"v1: digest: {served}" in proc.stdout
    assert registry.password not in proc.stdout + proc.stderr
    assert files_under(Path(str(user_home["TMPDIR"]))) == []
    assert files_under(Path(str(user_home["HOME"]))) == []


def test_docker_push_without_login_uses_the_users_own_docker_login(
    engine: Engine,
    folder: Path,
    tmp_path: Path,
    name: str,
    busybox_image: str,
    docker_auth_registry: AuthRegistry,
    user_home: dict[str, str | None],
) -> None:
    registry = docker_auth_registry
    config_dir = tmp_path / "user-docker-config"
    config_dir.mkdir()
    env = {**user_home, "DOCKER_CONFIG": str(config_dir)}
    write(folder, "build.pkr.hcl", push_template(registry, name, login=False), IMAGE=busybox_image)
    write(folder, "secret.auto.pkrvars.hcl", 'registry_password = "unused"\n')
    reference = f"{registry.address}/kiln/{name}:v1"
    engine.forget(reference)

    # not logged in: the registry refuses, and the build says so
    output = failed(engine.build(folder, env=env))
    assert f"docker push {reference} failed" in output
    assert "no basic auth credentials" in output

    # logged in the user's own way: docker-push uses that login
    own_login(engine.engine, registry, config_dir)
    proc = ok(engine.build(folder, env=env))
    served = manifest_digest(
        registry.address, f"kiln/{name}", "v1", auth=(registry.username, registry.password)
    )
    assert f"v1: digest: {served}" in proc.stdout
