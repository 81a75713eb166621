"""The cleanup journal: what a run is about to create outside the process, written
down before it exists, so that whatever ends the process, ``kiln reap`` can find it.

A step calls :meth:`Context.record <kiln.sdk.context.Context.record>` *before* it
creates a container, an instance, a key pair, a temporary folder...; the call returns
once the line is on disk. When the id is known, :meth:`Entry.update` adds it; after
its cleanup removed the thing, :meth:`Entry.gone`; a build's final artifact is
:meth:`Entry.keep`-ed instead. Each record names the *reaper* that can remove it (a
plugin's :class:`Reaper`, announced by its ``kiln_reapers`` hook) and carries what that
reaper needs — never a secret: credentials come from the environment ``kiln reap``
runs in.

One journal per ``kiln build``: ``<state dir>/journals/<run uuid>.jsonl``, JSON lines,
appended and flushed to disk one by one. The process holds an exclusive ``flock`` on
it while it runs, which the kernel drops however the process ends: a journal that can
be locked belongs to a run that is over. A run that ends with nothing outstanding
deletes its journal; one whose cleanup failed, or that was aborted or killed, leaves
it for ``kiln reap``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from kiln.files import atomic_file, fsync_folder

if TYPE_CHECKING:
    from kiln.sdk.context import Context
    from kiln.sdk.ui import Ui

SUFFIX = ".jsonl"


class Journal:
    """One run's journal. Without a file it keeps its records in memory only (a
    component used outside ``kiln build``, as in unit tests)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._next = 1
        self._outstanding: dict[int, Entry] = {}

    @classmethod
    def create(cls, folder: Path, run: str, **header: Any) -> Journal:
        """Start run ``run``'s journal in ``folder``, locked by this process."""
        import socket

        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        journal = cls()
        journal.path = folder / f"{run}{SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        journal._fd = os.open(journal.path, flags, 0o600)
        fcntl.flock(journal._fd, fcntl.LOCK_EX)
        head = {"op": "open", "run": run, "pid": os.getpid(), "host": socket.gethostname()}
        journal._write({**head, "time": time.time(), **header})
        fsync_folder(folder)
        return journal

    def record(self, reaper: str, kind: str, build: str = "", **details: Any) -> Entry:
        """Write down that ``kind`` is about to be created; returns once on disk."""
        with self._lock:
            entry = Entry(self, self._next, reaper, kind, build, details)
            self._next += 1
            self._outstanding[entry.n] = entry
            line = {"op": "record", "n": entry.n, "build": build, "reaper": reaper}
            self._write({**line, "kind": kind, "details": details, "time": time.time()})
        return entry

    @property
    def outstanding(self) -> list[Entry]:
        """Records neither gone nor kept, oldest first."""
        with self._lock:
            return list(self._outstanding.values())

    def close(self) -> None:
        """End the journal: deleted when nothing is outstanding, else left, unlocked,
        for ``kiln reap``."""
        with self._lock:
            if self._fd is None:
                return
            self._write({"op": "close", "time": time.time()})
            if not self._outstanding and self.path is not None:
                self.path.unlink()
            os.close(self._fd)
            self._fd = None

    def _settle(self, entry: Entry, op: str) -> None:
        with self._lock:
            if self._outstanding.pop(entry.n, None) is not None:
                self._write({"op": op, "n": entry.n})

    def _update(self, entry: Entry, details: Mapping[str, Any]) -> None:
        with self._lock:
            entry.details.update(details)
            self._write({"op": "update", "n": entry.n, "details": dict(details)})

    def _write(self, line: Mapping[str, Any]) -> None:
        if self._fd is not None:
            write_line(self._fd, line)


class Entry:
    """One thing a run creates; see the module docs for its life."""

    __slots__ = ("build", "details", "journal", "kind", "n", "reaper")

    def __init__(
        self, journal: Journal, n: int, reaper: str, kind: str, build: str, details: dict[str, Any]
    ) -> None:
        self.journal = journal
        self.n = n
        self.reaper = reaper
        self.kind = kind
        self.build = build
        self.details = details

    def update(self, **details: Any) -> None:
        """Add what became known once it exists (its id, say)."""
        self.journal._update(self, details)

    def gone(self) -> None:
        """It was removed (or never came to exist): nothing for ``kiln reap``."""
        self.journal._settle(self, "gone")

    def keep(self) -> None:
        """It is the build's result, wanted after the run: nothing for ``kiln reap``."""
        self.journal._settle(self, "keep")

    def describe(self) -> str:
        return describe(self.kind, self.details)

    def __repr__(self) -> str:
        return f"Entry({self.n}, {self.reaper}/{self.kind}, {self.details!r})"


def write_line(fd: int, line: Mapping[str, Any]) -> None:
    """Append one JSON line to a journal and flush it to disk."""
    os.write(fd, json.dumps(line, separators=(",", ":")).encode() + b"\n")
    os.fsync(fd)


class Leftover(NamedTuple):
    """Something a run created that is not known to be gone: from its journal, or
    found by a reaper's :meth:`Reaper.sweep` (then ``n`` is 0)."""

    run: str
    build: str
    reaper: str
    kind: str
    details: Mapping[str, Any]
    n: int = 0

    def describe(self) -> str:
        return describe(self.kind, self.details)


def describe(kind: str, details: Mapping[str, Any]) -> str:
    """``container kiln-1a2b-c3d4``, ``instance i-0abc (us-east-1)``: a record's kind,
    then its ``id``, ``name`` or ``path``, then its ``region``."""
    ident = details.get("id") or details.get("name") or details.get("path")
    text = f"{kind} {ident}" if ident else kind
    where = details.get("region")
    return f"{text} ({where})" if where else text


class Reaper:
    """Removes, for one plugin, what runs that ended badly left behind.

    A plugin announces it with a ``kiln_reapers`` hook returning
    ``ReaperSpec(name, reaper=ThisClass)``; the name is the one its components pass
    to :meth:`Context.record <kiln.sdk.context.Context.record>`. ``kiln reap`` calls
    :meth:`remove` for each leftover of a run, newest first (an instance before its
    key pair).
    """

    def __init__(self, ui: Ui, ctx: Context) -> None:
        self.ui = ui
        self.ctx = ctx

    def remove(self, leftover: Leftover) -> None:
        """Remove it, and return once it is gone; already gone counts as removed.
        Raise :class:`~kiln.sdk.context.BuildError` saying why when it cannot be."""
        raise NotImplementedError

    def sweep(self, live: set[str], older_than: float) -> Iterable[Leftover]:
        """Leftovers no journal names — tagged with a run whose journal is gone (a
        lost machine) — older than ``older_than`` seconds and of no run in ``live``.
        None by default."""
        return ()


class TempFolder:
    """A private temporary folder on this machine, in the run's journal from before it
    exists until it is removed: a killed build's folder (keys, a login's credentials)
    is removed by ``kiln reap``. Use it as a context manager, or call :meth:`remove`
    from a step's cleanup. Its parent, unless given: ``$KILN_TMP_DIR``, else Packer's
    ``$PACKER_TMP_DIR``, else the system's temporary folder."""

    def __init__(self, ctx: Context, prefix: str, parent: str | None = None) -> None:
        import tempfile

        parent = (
            parent
            or os.environ.get("KILN_TMP_DIR")
            or os.environ.get("PACKER_TMP_DIR")
            or tempfile.gettempdir()
        )
        parent = os.path.abspath(parent)
        self.path = os.path.join(parent, f"{prefix}{os.urandom(6).hex()}")
        self._entry = ctx.record("kiln", "local-folder", path=self.path)
        try:
            os.mkdir(self.path, 0o700)
        except BaseException:
            self._entry.gone()
            raise

    def remove(self) -> None:
        """Remove the folder and what it holds; again is harmless."""
        remove_tree(self.path)
        self._entry.gone()

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


@contextlib.contextmanager
def journaled_file(ctx: Context, path: str, *, mode: int = 0o666) -> Iterator[BinaryIO]:
    """:func:`kiln.files.atomic_file`, its partial file in the run's journal while it
    exists: what a build killed mid-write (a long export) leaves is removed by
    ``kiln reap``."""
    entries: list[Entry] = []

    def record(part: str) -> None:
        entries.append(ctx.record("kiln", "local-file", path=part))

    try:
        with atomic_file(path, mode=mode, before=record) as f:
            yield f
    finally:
        for entry in entries:  # renamed to path, or removed
            entry.gone()


def remove_tree(path: str) -> None:
    """Remove a file or folder tree; a missing one is fine."""
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
