"""Helpers for the docker plugin's tests: ``kiln build`` against the private engine, what
its output says, what a registry serves, and a ``docker`` that records how it is called.
(A module name of its own: every plugin's tests folder is on ``sys.path``.)"""

from __future__ import annotations

import base64
import re
import shlex
import shutil
import subprocess
import textwrap
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import KILN
from tests.dockerd import AuthRegistry, DockerEngine

#: ``kiln build`` or ``kiln validate`` of a folder, as the conftest fixtures run it
Build = Callable[..., subprocess.CompletedProcess[str]]
#: what the builder and docker-import say about the images they make
MADE_IMAGE = re.compile(r"(?:Image ID|Imported ID): (sha256:[0-9a-f]{64})")
#: the manifest media types docker push may upload
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)


class Engine:
    """The session's private engine for one test: runs ``kiln build`` against it, and
    removes at the end every image the test made or named with :meth:`forget`."""

    def __init__(self, engine: DockerEngine) -> None:
        self.engine = engine
        self.host = engine.host
        self.made: list[str] = []

    def docker(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``docker ARGS...`` against the engine (see :meth:`DockerEngine.docker`)."""
        return self.engine.docker(*args, input=input, check=check)

    def build(
        self, template: Path, *args: str, env: Mapping[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``kiln build -color=false ARGS... TEMPLATE`` (a folder or a file) where the
        template is, with ``env`` on top of this environment (None unsets a variable);
        the images it made are removed when the test ends."""
        environ: dict[str, str | None] = {**self.engine.env(), **(env or {})}
        proc = subprocess.run(
            [*KILN, "build", "-color=false", *args, str(template)],
            capture_output=True,
            text=True,
            cwd=template if template.is_dir() else template.parent,
            env={k: v for k, v in environ.items() if v is not None},
            timeout=120,
        )
        self.made += MADE_IMAGE.findall(proc.stdout)
        return proc

    def forget(self, *references: str) -> None:
        """Remove ``references`` (images or tags) when the test ends."""
        self.made += references

    def exists(self, reference: str) -> bool:
        return self.docker("image", "inspect", reference, check=False).returncode == 0

    def inspect(self, reference: str, template: str) -> str:
        return self.docker("image", "inspect", "--format", template, reference).stdout.strip()

    def cleanup(self) -> None:
        for reference in reversed(self.made):
            self.docker("rmi", "--force", reference, check=False)


def write(folder: Path, filename: str, text: str, **values: str) -> Path:
    """Write ``text`` (dedented, each ``@KEY@`` replaced by ``values[KEY]``) to
    ``folder/filename``; return the file."""
    text = textwrap.dedent(text).lstrip("\n")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    assert not re.search(r"@[A-Z_]+@", text), f"a placeholder is left in:\n{text}"
    path = folder / filename
    path.write_text(text)
    return path


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``proc``, asserting it succeeded (its output shown when not)."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def failed(proc: subprocess.CompletedProcess[str]) -> str:
    """Assert ``proc`` failed; return its output, standard output then error output."""
    assert proc.returncode != 0, f"it succeeded:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def artifacts(out: str) -> list[str]:
    """The artifact lines of ``kiln build``'s summary, without the build's name."""
    _, found, rest = out.partition("The artifacts of successful builds are:")
    assert found, out
    return [line.split(": ", 1)[1] for line in rest.splitlines() if line.startswith("--> ")]


def manifest_digest(
    registry: str, repository: str, tag: str, auth: tuple[str, str] | None = None
) -> str:
    """The digest ``registry`` serves for ``repository:tag`` (its Docker-Content-Digest)."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    if auth is not None:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        digest: str = response.headers["Docker-Content-Digest"]
    return digest


def own_login(engine: DockerEngine, registry: AuthRegistry, config: Path) -> None:
    """``docker login`` to ``registry`` in the docker configuration folder ``config``: a
    login of the test's own, which kiln never sees."""
    engine.docker(
        *("--config", str(config), "login", "--username", registry.username),
        *("--password-stdin", registry.address),
        input=registry.password.encode(),
    )


def push_with_own_login(
    engine: DockerEngine, registry: AuthRegistry, image: str, reference: str, config: Path
) -> None:
    """Put ``image`` in ``registry`` as ``reference`` (tagged so in the engine too), with
    a login of the test's own in the folder ``config``, which is removed afterwards."""
    own_login(engine, registry, config)
    engine.docker("tag", image, reference)
    engine.docker("--config", str(config), "push", reference)
    shutil.rmtree(config)


def spy_docker(folder: Path) -> tuple[Path, Path]:
    """A ``docker`` (for ``docker_path``) that appends each call's arguments and
    environment to a log, then runs the real one. Returns the program and the log."""
    real = shutil.which("docker")
    assert real is not None, "the docker CLI is not installed: run scripts/bootstrap test"
    program, log = folder / "docker-spy", folder / "docker-calls.log"
    program.write_text(
        "#!/bin/sh\n"
        f"log={shlex.quote(str(log))}\n"
        '{ printf "call"; printf " %s" "$@"; printf "\\n"; '
        'printf "config %s\\n" "${DOCKER_CONFIG-}"; '
        'printf "host %s\\n" "${DOCKER_HOST-}"; env; } >>"$log"\n'
        f'exec {shlex.quote(real)} "$@"\n'
    )
    program.chmod(0o755)
    return program, log


@dataclass(frozen=True)
class Call:
    """A docker command a :func:`spy_docker` saw: its arguments (split at spaces), and
    its DOCKER_CONFIG and DOCKER_HOST (empty when unset)."""

    args: list[str]
    config: str
    host: str


def calls(log: Path) -> list[Call]:
    """The calls a :func:`spy_docker` saw, in order."""
    found: list[Call] = []
    lines = log.read_text().splitlines() if log.exists() else []
    for at, line in enumerate(lines[:-2]):
        config, host = lines[at + 1], lines[at + 2]
        if line.startswith("call ") and config.startswith("config ") and host.startswith("host "):
            found.append(Call(line.split(" ")[1:], config[7:], host[5:]))
    return found


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path) and its content."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def files_under(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
