"""Running a program on this host, the way builds need it: output streamed as it
arrives, input fed from a stream, and stopped, with everything it started, when the
build is cancelled.

::

    status = run_process(["docker", "pull", image], stdout=out.write, ctx=self.ctx)

The program runs in its own session, so Ctrl-C at the terminal reaches kiln alone and
kiln decides what to stop (a cleanup may still need the program's peers).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, BinaryIO

from kiln.sdk.communicator import LineWriter
from kiln.sdk.context import BuildError, Context

if TYPE_CHECKING:
    import subprocess

    from kiln.sdk.ui import Ui

__all__ = ["run_process", "run_process_with_ui"]

#: how often a running program is checked for cancellation, in seconds
POLL = 0.1
#: pipe reads and writes move up to this many bytes at once
CHUNK = 1024 * 1024


def run_process(
    argv: Sequence[str],
    *,
    stdin: BinaryIO | int | None = None,
    stdout: Callable[[bytes], None] | None = None,
    stderr: Callable[[bytes], None] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    ctx: Context | None = None,
    grace: float = 2.0,
) -> int:
    """Run ``argv`` to its end and return its exit status.

    ``stdin`` is read and fed to the program (nothing when None); a file descriptor
    (the read end of a pipe another thread fills) is handed to the program to read
    itself, with no copy, and closed here once the program has started. ``stdout`` and
    ``stderr`` get its output in chunks as it arrives (discarded when None). ``env``
    replaces the environment when given. When ``ctx`` is cancelled the program's
    process group gets SIGTERM, then SIGKILL after ``grace`` seconds, and
    :class:`~kiln.sdk.context.Cancelled` is raised. A program that cannot be started
    raises :class:`OSError`.
    """
    import subprocess  # here: kiln.sdk is imported by every command, few run programs

    if stdin is None:
        source: int = subprocess.DEVNULL
    else:
        source = stdin if isinstance(stdin, int) else subprocess.PIPE
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        if isinstance(stdin, int):  # the program has its own copy, or never started
            os.close(stdin)
    threads = [_pump(proc.stdout, stdout), _pump(proc.stderr, stderr)]
    # Not waited for at the end: a program may exit without reading all its input, and
    # an input that is a stream (an SSH channel) may never end; the feeder stops at its
    # next write, or at the end of the input.
    if stdin is not None and not isinstance(stdin, int):
        _feed(proc.stdin, stdin)
    exit = _Exit(proc)
    try:
        while (status := exit.wait(POLL)) is None:
            if ctx is not None and ctx.cancelled:
                _stop(proc, grace)
                ctx.check()  # raises Cancelled
    finally:
        exit.close()
        if proc.poll() is None:  # interrupted by an exception of our own
            _stop(proc, 0)
        for thread in threads:
            thread.join()
    return status


def run_process_with_ui(
    argv: Sequence[str],
    ui: Ui,
    what: str,
    *,
    env: Mapping[str, str] | None = None,
    ctx: Context | None = None,
    grace: float = 2.0,
    stderr: Callable[[str], None] | None = None,
) -> int:
    """Run ``argv`` as :func:`run_process` does, its output shown line by line as build
    messages and its error output as errors (or through ``stderr``); return its exit
    status. A program that cannot be started is a :class:`BuildError`, "Error executing
    ``what``: PROGRAM: reason"."""
    out, err = LineWriter(ui.message), LineWriter(stderr or ui.error)
    try:
        return run_process(argv, stdout=out.write, stderr=err.write, env=env, ctx=ctx, grace=grace)
    except OSError as exc:
        raise BuildError(f"Error executing {what}: {argv[0]}: {exc.strerror}") from None
    finally:
        out.flush()
        err.flush()


class _Exit:
    """Waits for the program's exit: Linux says the moment it happens through a pidfd,
    where ``Popen.wait(timeout)`` polls with sleeps that add up to 50 ms to every short
    program (such as a docker command)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        try:
            self.fd: int | None = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # not Linux, or an old kernel
            self.fd = None

    def wait(self, timeout: float) -> int | None:
        """The exit status, or None if the program still runs after ``timeout`` seconds."""
        import select
        import subprocess

        if self.fd is None:
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return self.proc.wait() if ready else None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _pump(stream: IO[bytes] | None, out: Callable[[bytes], None] | None) -> threading.Thread:
    """Pass a pipe's data to ``out`` as it arrives (read1 returns what is there)."""

    def run() -> None:
        assert stream is not None
        with stream:
            while chunk := stream.read1(CHUNK):  # type: ignore[attr-defined]
                if out is not None:
                    out(chunk)

    thread = threading.Thread(target=run, name="kiln-process-output", daemon=True)
    thread.start()
    return thread


def _feed(pipe: IO[bytes] | None, data: BinaryIO) -> threading.Thread:
    def run() -> None:
        assert pipe is not None
        try:
            with pipe:
                while chunk := data.read(CHUNK):
                    pipe.write(chunk)
                    pipe.flush()  # now: a stream's reader may wait for this piece to answer
        except (BrokenPipeError, ValueError):  # the program stopped reading, or was stopped
            pass

    thread = threading.Thread(target=run, name="kiln-process-input", daemon=True)
    thread.start()
    return thread


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Stop the program and everything it started: SIGTERM, then SIGKILL."""
    import signal
    import subprocess

    steps = [(signal.SIGTERM, grace)] if grace else []
    for sig, wait in [*steps, (signal.SIGKILL, None)]:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
