"""The docker fault suite's injection harness: a ``docker`` for a build's
``docker_path`` that, at the Nth call of one docker subcommand, makes that call fail or
hold until the test releases it, as environment variables say; and ``kiln build`` as a
process to send signals to, with its output in a file to watch.

The failure runs the real command first and then reports failure (the engine did the
work, the CLI says it did not: the hardest case for a cleanup). A held call waits
before it runs the real command, so a build is interrupted or killed *while* the step
runs; once released it goes on as a docker CLI whose kiln went away would.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.conftest import KILN

#: how long any one wait of the suite may take before the test fails
PATIENCE = 60.0

SCRIPT = """#!/bin/sh
# at the KILN_FAULT_NTH-th call (default 1) of "docker $KILN_FAULT_CALL ...":
# KILN_FAULT_ACTION=fail runs it, then fails; hold waits for $KILN_FAULT_DIR/release
# first. $KILN_FAULT_DIR/held and done say how far it got.
real=@REAL@
if [ -n "${KILN_FAULT_CALL-}" ] && [ "$1" = "$KILN_FAULT_CALL" ]; then
  n=$(($(cat "$KILN_FAULT_DIR/count" 2>/dev/null || echo 0) + 1))
  echo "$n" >"$KILN_FAULT_DIR/count"
  if [ "$n" = "${KILN_FAULT_NTH:-1}" ]; then
    if [ "$KILN_FAULT_ACTION" = hold ]; then
      : >"$KILN_FAULT_DIR/held"
      while [ ! -e "$KILN_FAULT_DIR/release" ]; do sleep 0.02; done
    fi
    "$real" "$@"
    status=$?
    : >"$KILN_FAULT_DIR/done"
    if [ "$KILN_FAULT_ACTION" = fail ]; then
      echo "injected failure after docker $1" >&2
      exit 1
    fi
    exit $status
  fi
fi
exec "$real" "$@"
"""


class FaultyDocker:
    """The injecting ``docker`` program in ``folder``, and its markers."""

    def __init__(self, folder: Path) -> None:
        real = shutil.which("docker")
        assert real is not None, "the docker CLI is not installed: run scripts/bootstrap test"
        folder.mkdir(parents=True, exist_ok=True)
        self.markers = folder / "markers"
        self.markers.mkdir()
        self.program = folder / "docker"
        self.program.write_text(SCRIPT.replace("@REAL@", shlex.quote(real)))
        self.program.chmod(0o755)

    def env(self, call: str, action: str, nth: int = 1) -> dict[str, str]:
        """The environment that makes the ``nth`` ``docker CALL`` ``fail`` or ``hold``."""
        return {
            "KILN_FAULT_CALL": call,
            "KILN_FAULT_NTH": str(nth),
            "KILN_FAULT_ACTION": action,
            "KILN_FAULT_DIR": str(self.markers),
        }

    @property
    def held(self) -> bool:
        return (self.markers / "held").exists()

    @property
    def done(self) -> bool:
        """The faulty call ran the real command to its end."""
        return (self.markers / "done").exists()

    def release(self) -> None:
        (self.markers / "release").touch()


def kiln_reap(state: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``kiln reap`` of the journals in the folder ``state``, in ``env`` without its
    DOCKER_ variables: the journal says which engine to use."""
    clean = {k: v for k, v in env.items() if not k.startswith("DOCKER_")}
    return subprocess.run(
        [*KILN, "reap", "-color=false"],
        capture_output=True,
        text=True,
        env={**clean, "KILN_STATE_DIR": str(state)},
        timeout=PATIENCE,
    )


class BuildProcess:
    """``kiln build`` running in the background, its output (both streams) in a file."""

    def __init__(self, template: Path, log: Path, env: Mapping[str, str], *args: str) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*KILN, "build", "-color=false", *args, str(template)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=template,
                env=dict(env),
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, what: str, ready: Callable[[], bool], running: bool = True) -> None:
        """Wait until ``ready()``; with ``running``, fail if the build ends first."""
        deadline = time.monotonic() + PATIENCE
        while not ready():
            if running and self.proc.poll() is not None:
                raise AssertionError(f"the build ended before {what}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {PATIENCE:g} s:\n{self.output}")
            time.sleep(0.02)

    def wait_for_output(self, text: str) -> None:
        self.wait_until(repr(text), lambda: text in self.output)

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def finish(self) -> int:
        """Wait for the build to end; its exit status."""
        return self.proc.wait(timeout=PATIENCE)
