"""Running a command through a communicator in a test: what a communicator's own test
suite (a plugin's) checks first."""

from __future__ import annotations

import io

from kiln.sdk import Communicator, Context, RemoteCmd


def run_command(
    comm: Communicator, command: str, stdin: bytes | None = None, ctx: Context | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``command`` through ``comm``; its exit status, standard output and error
    output. Fails (AssertionError) when ``comm`` does not record the status it returns."""
    out, err = bytearray(), bytearray()
    cmd = RemoteCmd(
        command,
        stdin=io.BytesIO(stdin) if stdin is not None else None,
        stdout=out.extend,
        stderr=err.extend,
    )
    status = comm.start(cmd, ctx)
    assert cmd.exit_status == status, "the communicator must record the status it returns"
    return status, bytes(out), bytes(err)
