"""``kiln.sdk.run_process`` and ``run_process_with_ui``: what programs run on this host
get and give back."""

from __future__ import annotations

import os
import threading

import pytest

from kiln.sdk import BuildError, run_process, run_process_with_ui
from kiln.testing import MockUi


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


class OnePieceThenWait:
    """A stream that gives one line, then nothing more until the program has answered
    it (or ten seconds went by): an SSH channel whose client waits for the reply."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.pieces = [b"hello\n"]
        self.gave_up = False

    def read(self, size: int = -1) -> bytes:
        if self.pieces:
            return self.pieces.pop()
        self.gave_up = not self.answered.wait(10)
        return b""


def test_each_piece_of_a_streamed_input_reaches_the_program_at_once() -> None:
    source = OnePieceThenWait()

    def output(data: bytes) -> None:
        if b"hello" in data:
            source.answered.set()

    assert run_process(["cat"], stdin=source, stdout=output) == 0  # type: ignore[arg-type]
    assert source.answered.is_set()
    assert not source.gave_up, "the line sat in a buffer until the input ended"


def test_with_ui_output_lines_are_messages_and_error_lines_errors() -> None:
    ui = MockUi()
    script = "echo one; echo two >&2; printf three"
    assert run_process_with_ui(["sh", "-c", script], ui, "script") == 0
    assert ui.messages == ["one", "three"]  # the last line, without its newline, too
    assert ui.errors == ["two"]


def test_with_ui_error_lines_can_go_elsewhere() -> None:
    ui = MockUi()
    status = run_process_with_ui(["sh", "-c", "echo two >&2; exit 4"], ui, "x", stderr=ui.message)
    assert status == 4
    assert (ui.messages, ui.errors) == (["two"], [])


def test_with_ui_a_program_that_cannot_start_is_a_build_error() -> None:
    with pytest.raises(BuildError) as info:
        run_process_with_ui(["/no/such/program"], MockUi(), "Ansible")
    assert str(info.value) == "Error executing Ansible: /no/such/program: No such file or directory"
