"""The docker CLI, as the builder, the communicator and the post-processors call it.

Every command runs in its own session (Ctrl-C reaches kiln, which decides what to
stop) and is stopped when the build is cancelled. Secrets never go on a command line:
a registry password goes through ``--password-stdin``, environment values through the
CLI's own environment (``-e NAME`` takes the value from there).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, BinaryIO, cast

from kiln.sdk import (
    BuildError,
    Context,
    LineWriter,
    TempFolder,
    Ui,
    journaled_file,
    run_process,
)

#: the variables that say which engine the docker CLI talks to, and how
ENGINE_VARIABLES = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
)


class DockerError(BuildError):
    """A docker command failed; the message quotes what docker said."""


class Driver:
    """Runs ``docker`` commands against the engine the environment names, or the one
    ``engine`` names (the settings :meth:`where` recorded, for ``kiln reap``).

    ``login_dir`` is a private ``DOCKER_CONFIG`` folder while a registry login lives
    (see :meth:`login`); a call's ``env`` adds variables to the CLI's environment
    (values for ``-e NAME``). Calls are cancelled with ``ctx`` unless given their own.
    """

    def __init__(
        self,
        docker: str = "docker",
        ctx: Context | None = None,
        engine: Mapping[str, str] | None = None,
    ) -> None:
        self.docker = docker
        self.ctx = ctx
        #: the engine settings to use instead of this environment's (see :meth:`where`)
        self.engine = engine
        self.login_dir: TempFolder | None = None
        self.endpoint = ""  # the engine of the user's current context, while logged in

    # -- running the CLI ---------------------------------------------------------------

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        if self.engine is not None:
            for name in ENGINE_VARIABLES:
                env.pop(name, None)
            env.update(self.engine)
        if self.login_dir is not None:
            env["DOCKER_CONFIG"] = self.login_dir.path
            if self.endpoint:
                env["DOCKER_HOST"] = self.endpoint
        env.update(extra or {})
        return env

    def where(self) -> dict[str, Any]:
        """What a cleanup journal record needs to reach the same engine later: the
        docker command and the engine settings this build used (``DOCKER_HOST``,
        ``DOCKER_CONTEXT``...; addresses and paths, never credentials)."""
        docker = self.docker
        if os.sep in docker:
            docker = os.path.abspath(docker)  # kiln reap may run in another folder
        if self.engine is not None:
            engine = dict(self.engine)
        else:
            engine = {name: os.environ[name] for name in ENGINE_VARIABLES if name in os.environ}
        return {"docker": docker, "engine": engine}

    def call(
        self,
        *args: str,
        stdin: BinaryIO | int | None = None,
        stdout: Callable[[bytes], None] | None = None,
        stderr: Callable[[bytes], None] | None = None,
        env: Mapping[str, str] | None = None,
        ctx: Context | None = None,
    ) -> int:
        """Run ``docker ARGS`` (see :func:`kiln.sdk.run_process`) and return its exit
        status; a missing docker CLI is a :class:`DockerError`."""
        try:
            return run_process(
                [self.docker, *args],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=self.environment(env),
                ctx=ctx or self.ctx,
            )
        except FileNotFoundError:
            raise DockerError(
                f"The docker command ({self.docker}) was not found: install the docker CLI, "
                "or set docker_path to where it is."
            ) from None
        except OSError as exc:
            raise DockerError(f"Cannot run {self.docker}: {exc.strerror}.") from None

    def run(
        self,
        *args: str,
        stdin: BinaryIO | int | None = None,
        stdout: Callable[[bytes], None] | None = None,
        env: Mapping[str, str] | None = None,
        ctx: Context | None = None,
    ) -> str:
        """Run ``docker ARGS`` and return its output, stripped (or pass the output to
        ``stdout`` as it arrives). A non-zero exit raises :class:`DockerError` with
        what docker wrote to its error output."""
        out = bytearray()
        err = bytearray()
        status = self.call(
            *args, stdin=stdin, stdout=stdout or out.extend, stderr=err.extend, env=env, ctx=ctx
        )
        if status != 0:
            raise DockerError(_failure(args, status, err))
        return out.decode("utf-8", "replace").strip()

    def save_output(self, path: str, *args: str) -> None:
        """Run ``docker ARGS`` writing its output (an archive) to the file ``path``, which
        appears whole or not at all (missing folders are created). The partial file is
        in the run's cleanup journal while it exists."""
        with journaled_file(self.ctx or Context(), path) as file:

            def write(data: bytes) -> None:
                file.write(data)

            self.run(*args, stdout=write)

    def stream(self, ui: Ui, *args: str, ctx: Context | None = None) -> str:
        """Run ``docker ARGS`` showing its output line by line; return the output."""
        lines: list[str] = []

        def show(line: str) -> None:
            lines.append(line)
            ui.message(line)

        writer = LineWriter(show)
        self.run(*args, stdout=writer.write, ctx=ctx)
        writer.flush()
        return "\n".join(lines)

    @contextmanager
    def reading(self, *args: str, ctx: Context | None = None) -> Iterator[IO[bytes]]:
        """Run ``docker ARGS`` and yield its standard output to read; when the block
        ends, wait for it and raise :class:`DockerError` if it failed."""
        ctx = ctx or self.ctx
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                [self.docker, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=self.environment(),
                start_new_session=True,
            )
            assert proc.stdout is not None
            try:
                yield cast(IO[bytes], _Cancellable(proc.stdout, ctx))
                proc.stdout.read()  # the rest (a tar stream's padding), so it can exit
                status = proc.wait()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
            if status != 0:
                err.seek(0)
                raise DockerError(_failure(args, status, err.read()))

    # -- images ------------------------------------------------------------------------

    def inspect_image(self, image: str) -> dict[str, Any] | None:
        """The engine's record of ``image``, or None when it has no such image."""
        try:
            out = self.run("image", "inspect", "--format", "{{json .}}", image)
        except DockerError as exc:
            if "no such image" in str(exc).lower():
                return None
            raise
        record: dict[str, Any] = json.loads(out)
        return record

    def pull(self, ui: Ui, image: str, platform: str = "") -> None:
        self.stream(ui, "pull", *(["--platform", platform] if platform else []), image)

    def remove_image(self, image: str, ctx: Context | None = None) -> None:
        """Remove ``image``; one the engine does not have is fine."""
        try:
            self.run("rmi", image, ctx=ctx)
        except DockerError as exc:
            if "no such image" not in str(exc).lower():
                raise

    def image_id(self, reference: str) -> str:
        """The id of the image ``reference`` names; empty when there is none."""
        image = self.inspect_image(reference)
        return str(image.get("Id", "")) if image else ""

    def remove_made(self, reference: str, previous: str, ctx: Context | None = None) -> None:
        """Remove the image ``reference`` names if it is not ``previous`` (the one it
        named before a command that may have made it, such as an interrupted import)."""
        image = self.image_id(reference)
        if image and image != previous:
            self.remove_image(image, ctx=ctx)

    def committed_from(self, container: str, ctx: Context | None = None) -> list[str]:
        """The ids of the images committed from ``container`` (its full id): what a
        commit made when docker did not live to say its id. Engines before Docker 25
        record the container an image came from; with a later one this raises
        :class:`DockerError`, as it cannot tell."""
        ids = list(dict.fromkeys(self.run("images", "-aq", "--no-trunc", ctx=ctx).split()))
        if not ids:
            return []
        out = bytearray()
        # an image removed meanwhile fails the command, and the others are still listed
        self.call("image", "inspect", *ids, stdout=out.extend, ctx=ctx)
        records: list[dict[str, Any]] = json.loads(bytes(out) or b"[]")
        if any("Container" not in record for record in records):
            raise DockerError(
                "The engine does not say which container an image was committed from "
                f"(Docker 25 and later): look for an untagged image committed from "
                f"container {container} and remove it with docker rmi."
            )
        return [str(r["Id"]) for r in records if r["Container"] == container]

    # -- containers --------------------------------------------------------------------

    def remove_container(self, container: str, ctx: Context | None = None) -> None:
        """Remove the container (killing it) and its anonymous volumes; one the engine
        does not have is fine."""
        try:
            self.run("rm", "--force", "--volumes", container, ctx=ctx)
        except DockerError as exc:
            if "no such container" not in str(exc).lower():
                raise

    # -- registries --------------------------------------------------------------------

    def login(self, server: str, username: str, password: str) -> None:
        """Log in to ``server`` in a private ``DOCKER_CONFIG`` that lives until
        :meth:`logout`, so the user's own logins are neither used nor overwritten."""
        if self.login_dir is None:
            # the private config has no contexts: keep talking to the engine the
            # user's current context names
            self.endpoint = self._context_endpoint()
            # in the journal: kiln reap removes a killed build's credentials
            self.login_dir = TempFolder(self.ctx or Context(), "kiln-docker-config-")
        args = ["login", "--username", username, "--password-stdin"]
        try:
            self.run(*args, *([server] if server else []), stdin=io.BytesIO(password.encode()))
        except DockerError as exc:
            detail = str(exc).split(": ", 1)[-1]
            raise DockerError(
                f"Login to {server or 'Docker Hub'} as {username} failed: {detail}"
            ) from None

    def logout(self) -> None:
        """Forget the login: the private config folder goes, credentials and all."""
        if self.login_dir is not None:
            self.login_dir.remove()
            self.login_dir = None

    def _context_endpoint(self) -> str:
        """The engine address of the CLI's current context; empty when DOCKER_HOST
        decides or the context is the default one."""
        if self.environment().get("DOCKER_HOST"):
            return ""
        if self.run("context", "show") == "default":
            return ""
        return self.run("context", "inspect", "--format", "{{.Endpoints.docker.Host}}")


def _failure(args: Sequence[str], status: int, err: bytes | bytearray) -> str:
    text = bytes(err).decode("utf-8", "replace").strip()
    command = " ".join(["docker", *args[:2]])
    return f"{command} failed (exit status {status}): {text or 'no error output'}"


class _Cancellable:
    """A pipe to read from that raises Cancelled once the context is."""

    def __init__(self, stream: IO[bytes], ctx: Context | None) -> None:
        self.stream, self.ctx = stream, ctx

    def read(self, size: int = -1) -> bytes:
        if self.ctx is not None:
            self.ctx.check()
        return self.stream.read(size)
