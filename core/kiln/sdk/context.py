"""The build context: who is building, with which settings, and whether to stop.

Every component gets one as ``self.ctx``. Cancellation (Ctrl-C, a build-wide
``-timeout``, a provisioner ``timeout``) sets it; long-running work checks it, or
waits with :meth:`Context.sleep`, and stops with :class:`Cancelled`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from kiln.sdk.journal import Entry, Journal


class Cancelled(Exception):
    """The build was cancelled (interrupt or timeout) while this work ran."""


class BuildError(Exception):
    """A build step failed; the message is for the user, and no traceback is shown."""


@dataclass(frozen=True)
class Context:
    """Build-wide settings, as Packer passes its ``packer_*`` values to components."""

    build_name: str = ""
    builder_type: str = ""
    run_uuid: str = ""
    debug: bool = False
    force: bool = False
    #: cleanup | abort | ask | run-cleanup-provisioner
    on_error: str = "cleanup"
    template_dir: str = "."
    #: the kiln version and every loaded plugin distribution's version (name -> version),
    #: as the lock file pinned them; for records such as the manifest
    versions: tuple[tuple[str, str], ...] = ()
    #: the run's cleanup journal (see :mod:`kiln.sdk.journal`); in memory by default
    journal: Journal = field(default_factory=Journal, repr=False, compare=False)
    _events: tuple[threading.Event, ...] = field(default=(), repr=False)
    _deadline: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self._events:
            object.__setattr__(self, "_events", (threading.Event(),))

    def record(self, reaper: str, kind: str, **details: Any) -> Entry:
        """Write down, in the run's journal, that this build is about to create
        ``kind`` (which ``reaper`` can remove); returns once that is on disk. Call it
        before the creating call, then ``update``/``gone``/``keep`` the entry."""
        return self.journal.record(reaper, kind, self.journal_name, **details)

    @property
    def journal_name(self) -> str:
        """The build's name in journal records: ``TYPE.NAME``."""
        return f"{self.builder_type}.{self.build_name}" if self.builder_type else self.build_name

    # -- cancellation ---------------------------------------------------------------

    def cancel(self) -> None:
        """Cancel this context and every context derived from it."""
        self._events[-1].set()

    @property
    def cancelled(self) -> bool:
        return self.timed_out or any(e.is_set() for e in self._events)

    @property
    def timed_out(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def check(self) -> None:
        """Raise :class:`Cancelled` if the work should stop."""
        if self.cancelled:
            raise Cancelled("timed out" if self.timed_out else "cancelled")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise :class:`Cancelled` as soon as the context is."""
        end = time.monotonic() + seconds
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            self._events[-1].wait(min(left, 0.1))

    def child(self, timeout: float | None = None) -> Context:
        """A context cancelled with this one, or on its own, or after ``timeout`` seconds."""
        deadline = self._deadline
        if timeout:
            own = time.monotonic() + timeout
            deadline = own if deadline is None else min(deadline, own)
        return replace(self, _events=(*self._events, threading.Event()), _deadline=deadline)

    def detached(self) -> Context:
        """The same settings, not cancelled: for cleanup work that must run to the end."""
        return replace(self, _events=(threading.Event(),), _deadline=None)
