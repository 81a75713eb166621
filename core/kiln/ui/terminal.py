"""Build output as Packer prints it: ``==> NAME: message`` in one colour per build.

One :class:`Output` serves every build of a run (writes are serialised); each build
talks to its own :class:`BuildUi`. Every line is redacted of sensitive values. With
``-machine-readable`` the human output is replaced by Packer's
``timestamp,target,type,data...`` lines; ``-timestamp-ui`` prefixes lines with the time.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from typing import TextIO

from kiln.sdk.ui import Progress, Ui
from kiln.ui.redact import redact_text

#: Packer's build colours, in order: green, cyan, magenta, yellow, blue
BUILD_COLORS = (32, 36, 35, 33, 34)
RED = 31


class Output:
    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        color: bool = True,
        timestamp: bool = False,
        machine: bool = False,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.color = color and not machine
        self.timestamp = timestamp
        self.machine_readable = machine
        # re-entrant: a signal handler writes from the main thread, and a second Ctrl-C
        # can arrive while the first one's message still holds the lock
        self.lock = threading.RLock()
        self._builds = 0

    def for_build(self, name: str) -> BuildUi:
        color = BUILD_COLORS[self._builds % len(BUILD_COLORS)]
        self._builds += 1
        return BuildUi(self, name, color)

    # -- raw channels ---------------------------------------------------------------

    def emit(self, kind: str, text: str, *, color: int | None = None, bold: bool = False) -> None:
        """Write one ``say``/``message``/``error`` line (or its machine-readable form)."""
        text = redact_text(text)
        if self.machine_readable:
            self.machine("", "ui", kind, text)
            return
        if self.timestamp:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + ": "
            text = "\n".join(stamp + line if line else line for line in text.split("\n"))
        if self.color and color is not None:
            text = f"\033[{1 if bold else 0};{color}m{text}\033[0m"
        stream = self.err if kind == "error" else self.out
        with self.lock:
            stream.write(text + "\n")
            stream.flush()

    def say(self, text: str) -> None:
        self.emit("say", text, color=None)

    def error(self, text: str) -> None:
        self.emit("error", text, color=RED, bold=True)

    def machine(self, target: str, kind: str, *args: str) -> None:
        if not self.machine_readable:
            return
        fields = [str(int(time.time())), target, kind]
        fields += [
            redact_text(a).replace(",", "%!(PACKER_COMMA)").replace("\n", "\\n") for a in args
        ]
        with self.lock:
            self.out.write(",".join(fields) + "\n")
            self.out.flush()

    def ask(self, query: str) -> str:
        """Ask on the terminal; EOFError when stdin is not one (CI, pipes)."""
        if self.machine_readable or not sys.stdin.isatty():
            raise EOFError("no terminal to ask on")
        with self.lock:
            self.out.write(redact_text(query) + " ")
            self.out.flush()
            line = sys.stdin.readline()
        if not line:
            raise EOFError("stdin closed")
        return line.rstrip("\n")


class BuildUi(Ui):
    """The Ui one build writes to: its name as prefix, its colour."""

    def __init__(self, output: Output, name: str, color: int) -> None:
        self.output = output
        self.name = name
        self.color = color

    def say(self, message: str) -> None:
        self.output.emit("say", f"==> {self.name}: {message}", color=self.color, bold=True)

    def message(self, message: str) -> None:
        self.output.emit("message", f"    {self.name}: {message}", color=self.color)

    def error(self, message: str) -> None:
        self.output.emit("error", f"==> {self.name}: {message}", color=RED, bold=True)

    def ask(self, query: str) -> str:
        return self.output.ask(f"==> {self.name}: {query}")

    def machine(self, kind: str, *args: str) -> None:
        self.output.machine(self.name, kind, *args)

    def progress(self, label: str, total: int | None) -> Progress:
        if self.output.machine_readable or not self.output.out.isatty():
            return _QuietProgress(self, label)
        from kiln.ui.progress import BarProgress  # rich is imported only for a terminal

        return BarProgress(self, label, total)

    def prefixed(self, suffix: str) -> BuildUi:
        """The Ui of a post-processor inside this build: ``NAME (TYPE)``."""
        return BuildUi(self.output, f"{self.name} ({suffix})", self.color)


class _QuietProgress(Progress):
    """No bar off a terminal: one line with the size and rate when the transfer ends."""

    def __init__(self, ui: BuildUi, label: str) -> None:
        self.ui = ui
        self.label = label
        self.done = 0
        self.start = time.monotonic()

    def advance(self, amount: int) -> None:
        self.done += amount

    def close(self) -> None:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        mib = self.done / 1048576
        self.ui.message(
            f"{self.label}: {mib:.1f} MiB in {elapsed:.1f}s ({mib / elapsed:.1f} MiB/s)"
        )


def human_duration(seconds: float) -> str:
    """Packer's way of telling a duration: ``1 minute 3 seconds``, ``14 milliseconds``."""
    units = (
        ("hour", 3_600_000_000),
        ("minute", 60_000_000),
        ("second", 1_000_000),
        ("millisecond", 1_000),
        ("microsecond", 1),
    )
    rest = round(seconds * 1_000_000)  # whole microseconds: no float drift in the parts
    parts = []
    for name, size in units:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 seconds"
