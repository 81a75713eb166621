"""``kiln.sdk.run_process``: what programs run on this host get and give back."""

from __future__ import annotations

import os
import threading

from kiln.sdk import run_process


class EndlessInput:
    """An input stream that never ends (an SSH channel whose client keeps it open)."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def read(self, size: int = -1) -> bytes:
        self.closed.wait(30)
        return b""


def test_a_program_that_exits_without_reading_its_input_ends_the_run() -> None:
    endless = EndlessInput()
    try:
        status = run_process(["sh", "-c", "exit 3"], stdin=endless)  # type: ignore[arg-type]
    finally:
        endless.closed.set()
    assert status == 3


def test_a_program_reads_all_of_a_finite_input() -> None:
    read, write = os.pipe()
    out: list[bytes] = []
    with os.fdopen(write, "wb") as f:
        f.write(b"hello\n")
    with os.fdopen(read, "rb") as source:
        assert run_process(["cat"], stdin=source, stdout=out.append) == 0
    assert b"".join(out) == b"hello\n"
