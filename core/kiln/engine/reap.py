"""``kiln reap``'s work: read the journals of runs that are over, remove what they left
behind through the reaper each record names, then let each reaper sweep for what no
journal names (a run whose machine or journal was lost).

Safe to run twice and beside live builds: a live run holds the lock on its journal,
and a reap holds it on each journal it works on, so neither is touched; a removal is
written to the journal as soon as it is done, so a second reap finds nothing to do.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.plugins.manager import PluginManager
from kiln.sdk.context import BuildError, Cancelled, Context
from kiln.sdk.journal import SUFFIX, Leftover, write_line
from kiln.sdk.ui import Ui

log = logging.getLogger("kiln.reap")


@dataclass
class RunJournal:
    """A journal on disk, read back: its header and what is outstanding."""

    path: Path
    header: dict[str, Any]
    leftovers: list[Leftover]
    modified: float
    #: the last line lacks its newline (a crash mid-write)
    torn: bool = False

    @property
    def run(self) -> str:
        return str(self.header.get("run", self.path.stem))


def read_journal(path: Path) -> RunJournal:
    """Parse a journal; a torn last line (a crash mid-write) is skipped."""
    header: dict[str, Any] = {}
    records: dict[int, dict[str, Any]] = {}
    raw = b"\n"
    with path.open("rb") as f:
        modified = os.fstat(f.fileno()).st_mtime
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            op = line.get("op")
            if op == "open":
                header = line
            elif op == "record":
                records[line["n"]] = line
            elif op == "update" and line.get("n") in records:
                records[line["n"]]["details"].update(line.get("details", {}))
            elif op in ("gone", "keep"):
                records.pop(line.get("n"), None)
    run = str(header.get("run", path.stem))
    leftovers = [
        Leftover(run, r.get("build", ""), r["reaper"], r["kind"], r.get("details", {}), r["n"])
        for r in records.values()
    ]
    return RunJournal(path, header, leftovers, modified, torn=not raw.endswith(b"\n"))


class Claim:
    """The journal of a run that is over, locked by this process while it is reaped."""

    def __init__(self, journal: RunJournal, fd: int) -> None:
        self.journal = journal
        self.fd = fd

    def settle(self, leftover: Leftover) -> None:
        """Write down that ``leftover`` is gone now."""
        write_line(self.fd, {"op": "gone", "n": leftover.n, "time": time.time()})

    def release(self) -> None:
        """Unlock; a journal with nothing outstanding any more is deleted first."""
        try:
            if not read_journal(self.journal.path).leftovers:
                self.journal.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)


def claim(path: Path) -> Claim | None:
    """Lock the journal of a run that is over; None while its run (or another reap)
    holds it, or once it is gone."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if path.exists():  # else a reap that just finished deleted it
            journal = read_journal(path)
            if journal.torn:  # end it, or the first line this reap writes is lost with it
                os.write(fd, b"\n")
            return Claim(journal, fd)
    except BlockingIOError:
        pass
    os.close(fd)
    return None


def journal_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


@dataclass
class Report:
    removed: list[Leftover] = field(default_factory=list)
    #: what could not be removed (or looked for), and why
    failed: list[str] = field(default_factory=list)
    #: runs still going (or being reaped elsewhere), and journals too recent to touch
    live: set[str] = field(default_factory=set)


@dataclass
class Reap:
    """One ``kiln reap``: ``managers`` gives the plugins a run had (from the plugin
    folders its journal names); ``ui`` says what happens."""

    folder: Path
    managers: Callable[[tuple[str, ...]], PluginManager]
    ui: Ui
    ctx: Context
    dry_run: bool = False
    older_than: float = 0.0
    #: the age a resource found by a sweep (not by a journal) must have
    sweep_older_than: float = 0.0
    report: Report = field(default_factory=Report)

    def run(self) -> Report:
        claims: list[Claim] = []
        for path in journal_paths(self.folder):
            taken = claim(path)
            if taken is None:
                self.report.live.add(path.name.removesuffix(SUFFIX))
            elif time.time() - taken.journal.modified < self.older_than:
                self.report.live.add(taken.journal.run)
                os.close(taken.fd)
            else:
                claims.append(taken)
        try:
            for taken in claims:
                self._reap_journal(taken.journal, taken.settle)
        finally:
            for taken in claims:
                taken.release()
        self._sweep()
        return self.report

    def _reap_journal(self, journal: RunJournal, settle: Callable[[Leftover], None]) -> None:
        if not journal.leftovers:
            return
        header = journal.header
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(header.get("time", 0)))
        self.ui.say(
            f"Run {journal.run} (pid {header.get('pid', '?')} on {header.get('host', '?')}, "
            f"started {started}) left {_count(len(journal.leftovers), 'resource')}:"
        )
        pm = self.managers(tuple(header.get("paths", ())))
        for leftover in reversed(journal.leftovers):
            if self._remove(pm, leftover):
                settle(leftover)

    def _sweep(self) -> None:
        pm = self.managers(())
        for name, spec in pm.reapers().items():
            reaper = spec.reaper(self.ui, self.ctx)
            try:
                found = list(reaper.sweep(set(self.report.live), self.sweep_older_than))
            except BuildError as exc:
                self._fail(f"Could not look for {name} leftovers: {exc}")
                continue
            found = [f for f in found if f.run not in self.report.live]
            if found:
                self.ui.say(f"Found {_count(len(found), 'resource')} of runs with no journal:")
            for leftover in found:
                self._remove(pm, leftover)

    def _remove(self, pm: PluginManager, leftover: Leftover) -> bool:
        what = leftover.describe()
        build = f"{leftover.build}: " if leftover.build else ""
        spec = pm.reapers().get(leftover.reaper)
        if spec is None:
            reason = (
                f'no installed plugin removes "{leftover.reaper}" leftovers; install the '
                "plugin the build used (kiln init in its template's folder) and run kiln "
                "reap again"
            )
            self._fail(f"{build}could not remove {what}: {reason}")
            return False
        if self.dry_run:
            self.ui.message(f"{build}would remove {what}")
            self.report.removed.append(leftover)
            return False
        try:
            spec.reaper(self.ui, self.ctx).remove(leftover)
        except (BuildError, Cancelled) as exc:
            self._fail(f"{build}could not remove {what}: {exc}")
            return False
        except Exception as exc:  # a reaper's bug: report it, go on with the rest
            log.exception("reaper %s failed on %s", leftover.reaper, what)
            self._fail(f"{build}could not remove {what}: {type(exc).__name__}: {exc}")
            return False
        self.report.removed.append(leftover)
        self.ui.message(f"{build}removed {what}")
        return True

    def _fail(self, message: str) -> None:
        self.report.failed.append(message)
        self.ui.error(message)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
