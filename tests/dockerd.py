"""A private Docker engine and a registry on loopback, for the docker builder's tests.

``docker_engine`` (a session fixture) runs Debian's dockerd with everything under a
throwaway folder (``scripts/docker-engine``): no bridge, no iptables rules, so it never
meets another engine on the machine. Nothing is pulled from the internet: images are made
locally (``busybox_image``, ``busybox_entrypoint_image``, ``scripts/make-busybox-image``;
``debian_image``, Debian with python3 and ansible-core, ``scripts/make-debian-image``).
``docker_registry`` is Debian's docker-registry on a free 127.0.0.1 port; the engine
treats 127.0.0.0/8 registries as insecure, so push and pull need no TLS.
``docker_auth_registry`` is another that wants a login (htpasswd, one user).
:func:`running_dockerd`, :func:`running_registry` and :func:`running_auth_registry` are
the same as context managers, for code outside pytest.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import bcrypt
import pytest

from tests.sshd import free_port, stop_process, wait_until_serving

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
DOCKER_ENGINE = SCRIPTS / "docker-engine"
MAKE_BUSYBOX_IMAGE = SCRIPTS / "make-busybox-image"
MAKE_DEBIAN_IMAGE = SCRIPTS / "make-debian-image"
DOCKER_REGISTRY = "/usr/bin/docker-registry"

#: the longest unix socket path the engine makes under its folder, and the limit on it
#: (sun_path holds 108 bytes); scripts/docker-engine refuses a folder that breaks it
LONGEST_SOCKET = "exec/containerd/containerd-debug.sock"
MAX_SOCKET_CHARS = 100

BUSYBOX_TAG = "local/busybox:test"
BUSYBOX_ENTRYPOINT_TAG = "local/busybox:entrypoint"
DEBIAN_TAG = "local/debian-ansible:test"


@dataclass(frozen=True)
class DockerEngine:
    """A running private dockerd: ``host`` is its DOCKER_HOST, ``root`` its folder."""

    host: str
    root: Path

    def env(self) -> dict[str, str]:
        """This environment with DOCKER_HOST pointing at the engine (and no context)."""
        env = {**os.environ, "DOCKER_HOST": self.host}
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS...`` against the engine; with ``check``, a failure raises
        AssertionError with its stderr."""
        proc = subprocess.run(
            ["docker", *args],
            input=input,
            capture_output=True,
            env=self.env(),
            timeout=120,
        )
        result = subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited with {result.returncode}: {result.stderr}"
            )
        return result

    def containers(self) -> list[str]:
        """The ids of all containers, running or not."""
        return self.docker("ps", "-aq", "--no-trunc").stdout.split()

    def images(self) -> list[str]:
        """The ids of all images, dangling and intermediate ones too, each once."""
        return list(dict.fromkeys(self.docker("images", "-aq", "--no-trunc").stdout.split()))

    def volumes(self) -> list[str]:
        """The names of all volumes."""
        return self.docker("volume", "ls", "-q").stdout.split()

    def crash(self) -> None:
        """The engine goes away at once, as when it crashes: dockerd gets SIGKILL (its
        containers stay, as they were); :meth:`restart` brings it back."""
        os.kill(int((self.root / "dockerd.pid").read_text()), signal.SIGKILL)

    def restart(self) -> None:
        """Stop whatever is left of the engine and start it again on the same socket and
        data root: its containers, images and volumes are there again."""
        subprocess.run([str(DOCKER_ENGINE), "stop", str(self.root)], timeout=90, check=True)
        started = subprocess.run(
            [str(DOCKER_ENGINE), "start", str(self.root)],
            capture_output=True,
            text=True,
            timeout=90,
        )
        if started.returncode != 0 or started.stdout.strip() != self.host:
            raise RuntimeError(f"the Docker engine did not come back: {started.stderr}")


def socket_path_fits(workdir: Path) -> bool:
    """Whether an engine in ``workdir`` keeps its unix socket paths short enough."""
    return len(f"{workdir.resolve()}/{LONGEST_SOCKET}") < MAX_SOCKET_CHARS


def _dockerd_installed() -> bool:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("dockerd", path=path) is not None and shutil.which("docker") is not None


@contextmanager
def running_dockerd(workdir: Path) -> Iterator[DockerEngine]:
    """Run a private dockerd with everything under ``workdir`` until the block ends; where
    the engine's unix socket paths would be too long (:func:`socket_path_fits`), under a
    fresh short folder in /tmp instead, removed afterwards."""
    if not _dockerd_installed():
        raise RuntimeError("Docker (dockerd, docker) is not installed: run scripts/bootstrap test")
    with ExitStack() as stack:
        root = workdir.resolve()
        if not socket_path_fits(root):
            short = tempfile.TemporaryDirectory(
                prefix="kiln-dockerd-", dir="/tmp", ignore_cleanup_errors=True
            )
            root = Path(stack.enter_context(short))
        try:
            started = subprocess.run(
                [str(DOCKER_ENGINE), "start", str(root)], capture_output=True, text=True, timeout=90
            )
            if started.returncode != 0:
                raise RuntimeError(f"the Docker engine did not start: {started.stderr}")
            yield DockerEngine(host=started.stdout.strip(), root=root)
        finally:
            subprocess.run([str(DOCKER_ENGINE), "stop", str(root)], timeout=90, check=False)


def _make_image(
    engine: DockerEngine, what: str, script: Path, tag: str, *args: str, timeout: float
) -> str:
    """Run an image-making ``script`` for ``tag`` against ``engine``; return the id it
    prints."""
    made = subprocess.run(
        [str(script), tag, *args],
        capture_output=True,
        text=True,
        env=engine.env(),
        timeout=timeout,
    )
    if made.returncode != 0:
        raise RuntimeError(f"could not make the {what} image {tag}: {made.stderr}")
    return made.stdout.strip()


def make_busybox_image(engine: DockerEngine, tag: str, *changes: str) -> str:
    """Import a minimal busybox image as ``tag`` into ``engine``, with ``changes``
    (Dockerfile instructions; default ``CMD ["/bin/sh"]``); return its id."""
    return _make_image(engine, "busybox", MAKE_BUSYBOX_IMAGE, tag, *changes, timeout=120)


def make_debian_image(engine: DockerEngine, tag: str = DEBIAN_TAG) -> str:
    """Import a minimal Debian bookworm image with python3 and ansible-core as ``tag``
    into ``engine``; return its id. The first time on a machine runs debootstrap (about
    a minute); later times import the cached root filesystem (a few seconds)."""
    return _make_image(engine, "Debian", MAKE_DEBIAN_IMAGE, tag, timeout=900)


def _registry_answers(address: str, login: bool) -> bool:
    """Whether the registry answers ``/v2/``: 200, or with ``login`` a 401 that asks for
    basic auth."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=1) as response:
            return response.status == 200 and not login
    except urllib.error.HTTPError as exc:
        asks = "basic" in exc.headers.get("WWW-Authenticate", "").lower()
        return login and exc.code == 401 and asks
    except OSError:
        return False


@contextmanager
def _registry(workdir: Path, auth: str = "") -> Iterator[str]:
    """Run docker-registry on a free 127.0.0.1 port, blobs under ``workdir``, with the
    ``auth:`` section ``auth`` (YAML) if any; yields ``127.0.0.1:PORT``."""
    if not os.path.exists(DOCKER_REGISTRY):
        raise RuntimeError("docker-registry is not installed: run scripts/bootstrap test")
    address = f"127.0.0.1:{free_port()}"
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n"
        "  level: error\n"
        "storage:\n"
        "  filesystem:\n"
        f"    rootdirectory: {workdir / 'storage'}\n"
        "http:\n"
        f"  addr: {address}\n" + auth
    )
    log = workdir / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [DOCKER_REGISTRY, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = partial(_registry_answers, address, login=bool(auth))
        wait_until_serving("docker-registry", f"on {address}", proc, log, ready, timeout=15)
        yield address
    finally:
        stop_process(proc)


@contextmanager
def running_registry(workdir: Path) -> Iterator[str]:
    """Run a registry (no auth, no TLS) on a free 127.0.0.1 port, storing its blobs under
    ``workdir``, until the block ends; yields its address ``127.0.0.1:PORT``."""
    with _registry(workdir) as address:
        yield address


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A private Docker engine for the whole test session."""
    with running_dockerd(tmp_path_factory.mktemp("dockerd")) as engine:
        yield engine


@pytest.fixture(scope="session")
def busybox_image(docker_engine: DockerEngine) -> str:
    """The tag of a busybox image (``CMD ["/bin/sh"]``) in ``docker_engine``."""
    make_busybox_image(docker_engine, BUSYBOX_TAG)
    return BUSYBOX_TAG


@pytest.fixture(scope="session")
def busybox_entrypoint_image(docker_engine: DockerEngine) -> str:
    """The tag of a busybox image with ``ENTRYPOINT ["/bin/echo", "entry"]`` and
    ``CMD ["from-cmd"]`` in ``docker_engine``: it prints ``entry from-cmd``."""
    make_busybox_image(
        docker_engine,
        BUSYBOX_ENTRYPOINT_TAG,
        'ENTRYPOINT ["/bin/echo", "entry"]',
        'CMD ["from-cmd"]',
    )
    return BUSYBOX_ENTRYPOINT_TAG


@pytest.fixture(scope="session")
def debian_image(docker_engine: DockerEngine) -> str:
    """The tag of a Debian bookworm image (minbase with python3 and ansible-core,
    ``CMD ["/bin/bash"]``) in ``docker_engine``."""
    make_debian_image(docker_engine, DEBIAN_TAG)
    return DEBIAN_TAG


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry on loopback for the whole test session: its address ``127.0.0.1:PORT``."""
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@dataclass(frozen=True)
class AuthRegistry:
    """A running registry that wants a login: ``address`` is ``127.0.0.1:PORT``, and
    ``username`` with ``password`` the one account that may push and pull."""

    address: str
    username: str
    password: str


@contextmanager
def running_auth_registry(
    workdir: Path, username: str = "kiln", password: str | None = None
) -> Iterator[AuthRegistry]:
    """Run a registry on a free 127.0.0.1 port (no TLS: the engine treats loopback
    registries as insecure) that lets only ``username`` with ``password`` (default: a
    fresh random one) push and pull, until the block ends."""
    password = password or secrets.token_hex(16)
    htpasswd = workdir / "htpasswd"
    # the registry checks the hash on every request: the lowest cost keeps pushes fast
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"{username}:{hashed}\n")
    auth = f"auth:\n  htpasswd:\n    realm: kiln-test\n    path: {htpasswd}\n"
    with _registry(workdir, auth) as address:
        yield AuthRegistry(address, username, password)


@pytest.fixture(scope="session")
def docker_auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A registry on loopback that wants a login (htpasswd), for the whole test session."""
    with running_auth_registry(tmp_path_factory.mktemp("auth-registry")) as registry:
        yield registry
