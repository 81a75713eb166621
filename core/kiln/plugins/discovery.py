"""The ``kiln`` entry points of the distributions on ``sys.path``, remembered between
commands.

Scanning for them costs every command some 16 ms: importing :mod:`importlib.metadata`
(which imports the email package, zipfile and csv) and reading every installed
distribution's entry points. So the entry points found are kept in kiln's cache folder,
keyed by what decides them, and a command whose installed distributions have not
changed since reads them back without importing :mod:`importlib.metadata`.

The key, checked on every read with a few ``stat`` and ``listdir`` calls:

- kiln's version, Python's, the cache format and ``sys.path`` (with the working
  folder when an entry is relative): the cache file's name;
- for each ``sys.path`` entry, its modification time and the names of the
  ``*.dist-info`` / ``*.egg-info`` folders in it (or that it is missing). The names
  are there because a timestamp only moves every few milliseconds: a distribution
  installed or removed within one tick of the last scan changes the names, if not the
  time. Installing, removing, upgrading or reinstalling a distribution is seen;
- for each distribution that has ``kiln`` entry points, the time, size and inode of its
  ``entry_points.txt`` and of its ``METADATA`` (or ``PKG-INFO``), so that a file edited
  in place is seen too.

What is not seen: a distribution *without* ``kiln`` entry points whose
``entry_points.txt`` is edited in place to add some, without reinstalling it. A
meta-path finder other than Python's own that finds distributions turns the cache off
(its distributions cannot be keyed), as does a distribution that is not a folder on
disk. A cache entry that is missing, damaged or cannot be written is only a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import stat
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import Distribution

GROUP = "kiln"

#: what a cache entry holds; a new value makes every older entry a miss
_FORMAT = "kiln-entry-points-1"


class PluginEntryPoint:
    """One ``kiln`` entry point and the distribution that declares it.

    (A plain slotted class: a dataclass would cost every command half a millisecond.)
    """

    __slots__ = ("distribution", "name", "value", "version")

    def __init__(self, distribution: str, version: str, name: str, value: str) -> None:
        self.distribution = distribution  # the Name in its metadata ("" when none)
        self.version = version  # the Version in its metadata ("" when none)
        self.name = name
        self.value = value  # "module" or "module:attr.attr", as the entry point gives it

    def _fields(self) -> tuple[str, str, str, str]:
        return (self.distribution, self.version, self.name, self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PluginEntryPoint):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "PluginEntryPoint({!r}, {!r}, {!r}, {!r})".format(*self._fields())

    @property
    def module(self) -> str:
        parsed = _parse(self.value)
        return parsed[0] if parsed else self.value

    def load(self) -> Any:
        """Import the module and fetch the attribute, as ``EntryPoint.load`` does."""
        parsed = _parse(self.value)
        if parsed is None:  # a malformed value: importlib.metadata's own error for it
            import importlib.metadata as metadata

            return metadata.EntryPoint(self.name, self.value, GROUP).load()
        module, attrs = parsed
        found: Any = importlib.import_module(module)
        for attr in filter(None, attrs.split(".")):
            found = getattr(found, attr)
        return found


def _parse(value: str) -> tuple[str, str] | None:
    """An entry point's module and attribute path ("" for none) by importlib.metadata's
    ``EntryPoint.pattern`` (``module``, ``module:attr.attr``, optional ``[extras]``,
    which loading ignores); None when it does not match. The usual plain value is split
    without compiling the pattern."""
    module, colon, attrs = value.partition(":")
    if value.isascii() and all(
        part.isidentifier() for part in (*module.split("."), *(attrs.split(".") if colon else ()))
    ):
        return module, attrs
    match = re.match(_PATTERN, value)
    return (match.group("module"), match.group("attr") or "") if match else None


_PATTERN = r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"


def entry_points() -> list[PluginEntryPoint]:
    """The ``kiln`` entry points of the distributions on ``sys.path``, in
    importlib.metadata's order and with its de-duplication (of two distributions of
    one name, the first on ``sys.path`` wins): from the cache when the installed
    distributions are those of the last scan, else scanned (and remembered).
    """
    path = list(sys.path)
    if not _only_path_finder():
        return _scan()[0]
    cache = _cache_file(path)
    folders = _folders(path)  # before the scan: a change during it is a miss next time
    hit = _read(cache, path, folders) if cache is not None else None
    if hit is not None:
        return hit
    found, files = _scan()
    if cache is not None and files is not None:
        _store(cache, path, folders, files, found)
    return found


def distribution_fields(dist: Distribution) -> tuple[str, str]:
    """The name and version in a distribution's metadata ("" for a missing one).

    Read from the file's header lines, where the core metadata specification puts both,
    each on one line: ``Distribution.metadata`` would import and run the email parser,
    some 5 ms of every command, for two fields.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields = {"Name": "", "Version": ""}
    for line in text.splitlines():
        if not line:  # the header ends at the first empty line
            break
        key, colon, value = line.partition(":")
        if colon and fields.get(key) == "":
            fields[key] = value.strip()
    return fields["Name"], fields["Version"]


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- scanning ------------------------------------------------------------------------


def _scan() -> tuple[list[PluginEntryPoint], list[Any] | None]:
    """The entry points, read by importlib.metadata, and the stamps of the metadata
    files they came from, as ``[file, stamp]`` pairs (None when one of them is not a
    file on disk, which cannot be keyed, or changed while it was read)."""
    import importlib.metadata as metadata

    # A process that scanned before has importlib.metadata's listing of each folder,
    # kept by the folder's time, which a change within one tick does not move: drop it.
    # (Python 3.11's importlib.invalidate_caches() leaves it; an instance call works
    # whether the method is a classmethod, as from 3.12, or not.)
    metadata.MetadataPathFinder().invalidate_caches()
    found: list[PluginEntryPoint] = []
    dists: dict[str, Distribution] = {}  # metadata folder -> distribution, in order
    keyable = True
    for ep in metadata.entry_points(group=GROUP):
        name, version = distribution_fields(ep.dist) if ep.dist is not None else ("", "")
        found.append(PluginEntryPoint(name, version, ep.name, ep.value))
        folder = getattr(ep.dist, "_path", None)  # a PathDistribution's metadata folder
        if not isinstance(folder, (str, os.PathLike)) or not os.path.isdir(folder):
            keyable = False
        elif ep.dist is not None:
            dists.setdefault(os.fspath(folder), ep.dist)
    if not keyable:
        return found, None
    files = [os.path.join(folder, name) for folder in dists for name in _METADATA_FILES]
    # The stamps are taken after the files were read: read them again, so that the
    # entry points stored are never older than the stamps stored with them.
    stamps = _stamps(files)
    again = [
        PluginEntryPoint(*distribution_fields(dist), ep.name, ep.value)
        for dist in dists.values()
        for ep in dist.entry_points
        if ep.group == GROUP
    ]
    if sorted(again, key=repr) != sorted(found, key=repr) or _stamps(files) != stamps:
        return found, None  # being installed while we read it: scan again next time
    return found, [[file, stamp] for file, stamp in zip(files, stamps, strict=True)]


_METADATA_FILES = ("entry_points.txt", "METADATA", "PKG-INFO")


# -- the cache -----------------------------------------------------------------------


def _only_path_finder() -> bool:
    """Whether Python's own path finder is the only one that finds distributions."""
    from importlib.machinery import PathFinder

    return all(
        finder is PathFinder
        for finder in sys.meta_path
        if getattr(finder, "find_distributions", None) is not None
    )


def _cache_file(path: list[str]) -> str | None:
    from kiln import __version__
    from kiln.install.settings import cache_dir

    try:
        folder = cache_dir()
        # A relative entry ("" for ``python -c``) is a folder of the working folder.
        here = os.getcwd() if not all(os.path.isabs(entry) for entry in path) else ""
    except Exception:  # no home folder for a cache, or no working folder: scan
        return None
    key = json.dumps([_FORMAT, __version__, sys.version, path, here])
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return os.path.join(folder, "entry-points", digest + ".json")


def _folders(path: list[str]) -> list[Any]:
    """Per ``sys.path`` entry: None when missing; a file's time and size (a zip file);
    a folder's time and the sorted names of the distributions' metadata folders in it,
    as importlib.metadata finds them (None when it cannot be listed)."""
    key: list[Any] = []
    for entry in path:
        root = entry or "."
        try:
            st = os.stat(root)
        except OSError:
            key.append(None)
            continue
        if not stat.S_ISDIR(st.st_mode):
            key.append([st.st_mtime_ns, st.st_size])
            continue
        try:
            names = os.listdir(root)
        except OSError:
            key.append([st.st_mtime_ns, None])
            continue
        egg = os.path.basename(root).lower().endswith(".egg")
        infos = [
            n
            for n in names
            if n.lower().endswith((".dist-info", ".egg-info")) or (egg and n.lower() == "egg-info")
        ]
        key.append([st.st_mtime_ns, sorted(infos)])
    return key


def _stamps(files: list[str]) -> list[Any]:
    stamps: list[Any] = []
    for file in files:
        try:
            st = os.stat(file)
        except OSError:
            stamps.append(None)
            continue
        stamps.append([st.st_mtime_ns, st.st_size, st.st_ino])
    return stamps


def _read(cache: str, path: list[str], folders: list[Any]) -> list[PluginEntryPoint] | None:
    try:
        with open(cache, "rb") as f:
            entry = json.load(f)
        if entry["format"] != _FORMAT or entry["path"] != path or entry["folders"] != folders:
            return None
        files = [file for file, _ in entry["files"]]
        if [stamp for _, stamp in entry["files"]] != _stamps(files):
            return None
        return [PluginEntryPoint(*(str(field) for field in ep)) for ep in entry["entry_points"]]
    except Exception:  # a missing, stale or damaged entry is only a cache miss
        return None


def _store(
    cache: str,
    path: list[str],
    folders: list[Any],
    files: list[Any],
    found: list[PluginEntryPoint],
) -> None:
    """Write a cache entry atomically; a read-only or full cache folder only costs speed."""
    from kiln.files import write_atomically

    entry = {
        "format": _FORMAT,
        "path": path,
        "folders": folders,
        "files": files,
        "entry_points": [[ep.distribution, ep.version, ep.name, ep.value] for ep in found],
    }
    with contextlib.suppress(OSError):
        write_atomically(cache, json.dumps(entry).encode())
