"""Docker: ``kiln build`` against ``packer build`` (1.6.6) with the docker builder, and
kiln's docker communicator uploading a file against ``docker cp``.

Each benchmark starts a private engine (the tests' ``tests/dockerd.py``: dockerd needs
root and docker.io) in a temporary folder, makes the busybox image there once, and
stops the engine when it ends, whether it measured or failed. Both tools talk to
that engine through the same docker CLI (the first on ``PATH``).

- ``docker-build``: one template, a docker source (``pull = false``, ``commit = true``)
  with three shell provisioners and a file provisioner. Before every run, untimed, the
  images the last run committed are removed (and checked to be there) and the disk
  synced, so the engine does not fill up and no run pays for the one before.
- ``docker-build-parallel``: eight such sources in one build, built in parallel.
- ``docker-upload``: one 256 MiB file into a running container. As in transfer.py, a
  kiln run is the communicator's upload in this process (as during a build, where kiln
  is already running; it runs ``docker cp -`` with a tar stream); a ``docker cp`` run is
  the whole command. The last copy is deleted in the container, untimed, before every
  run.

Targets: the builds no slower than Packer (ratio ≤ 1.0), the upload at 0.9× docker cp's
throughput or better (ratio ≤ 1/0.9).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from common import (
    BenchError,
    Benchmark,
    Options,
    Row,
    build_commands,
    environment,
    median_times,
    median_wall_times,
)
from tests.dockerd import BUSYBOX_TAG, DockerEngine, make_busybox_image, running_dockerd

BUILD_TARGET = 1.0
UPLOAD_TARGET = 1 / 0.9
BIG = 256 * 1024 * 1024
PARALLEL_SOURCES = "abcdefgh"

SOURCE = """
source "docker" "{name}" {{
  image  = "{image}"
  pull   = false
  commit = true
}}
"""

BUILD = """
build {{
  sources = [{sources}]

  provisioner "shell" {{
    inline = ["mkdir -p /opt/app", "echo one > /opt/app/one.txt"]
  }}

  provisioner "shell" {{
    inline = ["echo two > /opt/app/two.txt", "ls /opt/app"]
  }}

  provisioner "file" {{
    source      = "{payload}"
    destination = "/opt/app/payload.txt"
  }}

  provisioner "shell" {{
    inline = ["cat /opt/app/payload.txt", "echo three > /opt/app/three.txt"]
  }}
}}
"""


def _busybox(engine: DockerEngine) -> str:
    return make_busybox_image(engine, BUSYBOX_TAG)


@contextmanager
def private_engine(
    make_image: Callable[[DockerEngine], str] = _busybox,
) -> Iterator[tuple[DockerEngine, str, Path]]:
    """A private engine with the image ``make_image`` makes in it (default busybox),
    that image's id and a work folder; the engine is stopped and both folders removed
    when the block ends."""
    if shutil.which("docker") is None:
        raise BenchError("the docker CLI is missing: run scripts/bootstrap test")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="kiln-bench-docker-") as tmp,
            tempfile.TemporaryDirectory(
                prefix="kiln-bench-dockerd-", ignore_cleanup_errors=True
            ) as root,
            running_dockerd(Path(root)) as engine,
        ):
            base = make_image(engine)
            yield engine, base, Path(tmp)
            left = engine.containers()
            if left:
                raise BenchError(f"containers left behind in the engine: {' '.join(left)}")
    except RuntimeError as exc:  # dockerd is missing, did not start, or no image
        raise BenchError(str(exc)) from None


def docker_cli(engine: DockerEngine, *args: str) -> str:
    """``docker ARGS`` against the engine, its output; a failure is a BenchError."""
    proc = engine.docker(*args, check=False)
    if proc.returncode != 0:
        raise BenchError(f"`docker {' '.join(args)}` exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def build_env(engine: DockerEngine) -> dict[str, str]:
    """The engine for both tools, and a PATH on which Packer finds the docker CLI."""
    path = os.environ.get("PATH", "").split(os.pathsep)
    path += [folder for folder in ("/usr/local/bin", "/usr/bin") if folder not in path]
    return {"DOCKER_HOST": engine.host, "PATH": os.pathsep.join(path)}


def build_template(folder: Path, names: str) -> Path:
    payload = folder / "payload.txt"
    payload.write_text("hello from the host\n" * 100)
    sources = "".join(SOURCE.format(name=name, image=BUSYBOX_TAG) for name in names)
    build = BUILD.format(
        sources=", ".join(f'"source.docker.{name}"' for name in names), payload=payload
    )
    path = folder / "bench.pkr.hcl"
    path.write_text(sources + build)
    return path


class RemoveBuilt:
    """Run untimed before every build: checks that the last build committed one image
    per source and left no container, removes those images and syncs the disk."""

    def __init__(self, engine: DockerEngine, base: str, per_build: int) -> None:
        self.engine, self.base, self.per_build = engine, base, per_build
        self.first = True

    def __call__(self) -> None:
        containers = self.engine.containers()
        if containers:
            raise BenchError(f"a build left containers behind: {' '.join(containers)}")
        built = [image for image in self.engine.images() if image != self.base]
        if not self.first and len(built) != self.per_build:
            raise BenchError(f"a build made {len(built)} images, not {self.per_build}")
        self.first = False
        if built:
            docker_cli(self.engine, "rmi", *built)
        os.sync()


def _builds(options: Options, names: str) -> tuple[float, float]:
    with private_engine() as (engine, base, folder):
        path = build_template(folder, names)
        reset = RemoveBuilt(engine, base, len(names))
        kiln, packer = median_wall_times(
            build_commands(path),
            options,
            cwd=folder,
            env=build_env(engine),
            reset=reset,
        )
        reset()  # checks the last run too
    return kiln, packer


def docker_build(options: Options) -> list[Row]:
    kiln, packer = _builds(options, "a")
    row = Row("build docker (commit)", kiln, packer, BUILD_TARGET)
    row.notes.append("busybox, 3 shell + 1 file provisioners, commit; private engine")
    return [row]


def docker_build_parallel(options: Options) -> list[Row]:
    kiln, packer = _builds(options, PARALLEL_SOURCES)
    row = Row("build docker x8 in parallel", kiln, packer, BUILD_TARGET)
    row.notes.append(
        f"{len(PARALLEL_SOURCES)} sources in one build, each as in docker-build; "
        "both tools' default -parallel-builds=0 (no limit)"
    )
    return [row]


def docker_upload(options: Options) -> list[Row]:
    try:
        from kiln_plugin_docker.communicator import DockerCommunicator
        from kiln_plugin_docker.driver import Driver
    except ImportError:
        raise BenchError(
            "the docker plugin (kiln-plugin-docker) is not installed: run scripts/bootstrap test"
        ) from None
    with private_engine() as (engine, _, folder):
        src = folder / "big.bin"
        _random_file(src, BIG)
        argv = ["run", "-d", "-i", "-t", "--entrypoint=/bin/sh", BUSYBOX_TAG]
        container = docker_cli(engine, *argv).strip()
        try:
            copied: list[int] = []

            def reset() -> None:
                # the size of the last copy (nothing before the first run), then delete it
                out = docker_cli(
                    engine,
                    *("exec", container, "/bin/sh", "-c"),
                    "if [ -e /tmp/big ]; then stat -c %s /tmp/big; rm -f /tmp/big; fi",
                )
                copied.extend(int(size) for size in out.split())
                os.sync()

            def kiln() -> None:
                comm = DockerCommunicator(Driver(), container)
                with open(src, "rb") as f:
                    comm.upload("/tmp/big", f)

            def docker_cp() -> None:
                cp = ["docker", "cp", str(src), f"{container}:/tmp/big"]
                proc = subprocess.run(cp, capture_output=True, text=True, timeout=600)
                if proc.returncode != 0:
                    raise BenchError(f"`{' '.join(cp)}` exited {proc.returncode}: {proc.stderr}")

            # the docker driver hands this environment (the engine's, no context) to the CLI
            with environment(engine.env()):
                kiln_time, cp_time = median_times([kiln, docker_cp], options, reset)
            reset()  # checks the last run too
            runs = 2 * (options.warmup + max(1, options.repetitions))
            if copied != [BIG] * runs:
                raise BenchError(f"the uploads made files of {copied} bytes, not {runs} × {BIG}")
        finally:
            engine.docker("rm", "--force", container, check=False)
    row = Row("upload 256 MiB file (vs docker cp)", kiln_time, cp_time, UPLOAD_TARGET)
    row.notes.append(
        f"kiln {BIG / kiln_time / 2**20:.0f} MiB/s, docker cp {BIG / cp_time / 2**20:.0f} MiB/s"
    )
    return [row]


def _random_file(path: Path, size: int) -> None:
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size // len(chunk)):
            f.write(chunk)


BENCHMARKS = [
    Benchmark(
        "docker-build",
        "kiln vs packer build of one docker-builder template (private engine)",
        docker_build,
    ),
    Benchmark(
        "docker-build-parallel",
        "kiln vs packer build of eight docker sources in parallel (private engine)",
        docker_build_parallel,
    ),
    Benchmark(
        "docker-upload",
        "kiln docker communicator upload vs docker cp, one 256 MiB file",
        docker_upload,
    ),
]
