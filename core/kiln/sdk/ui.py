"""The user interface a component writes to.

``say`` is a headline (``==> docker.app: Pulling image``), ``message`` a detail
under it, ``error`` a problem. Output is prefixed with the build's name, coloured,
redacted of sensitive values and mirrored to ``-machine-readable`` lines by kiln; a
component only says what happened.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class Progress:
    """A running transfer; kiln draws a bar on a terminal and stays quiet otherwise."""

    def advance(self, amount: int) -> None:
        """``amount`` more bytes (or items) are done."""

    def close(self) -> None:
        """The transfer ended."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Ui(ABC):
    @abstractmethod
    def say(self, message: str) -> None: ...

    @abstractmethod
    def message(self, message: str) -> None: ...

    @abstractmethod
    def error(self, message: str) -> None: ...

    @abstractmethod
    def ask(self, query: str) -> str:
        """Ask the person at the terminal; raises EOFError when there is none."""

    def machine(self, kind: str, *args: str) -> None:  # noqa: B027 - optional hook
        """A ``-machine-readable`` line of type ``kind`` (ignored unless that mode is on)."""

    def progress(self, label: str, total: int | None) -> Progress:
        """Track a transfer of ``total`` bytes (None when unknown)."""
        return Progress()
