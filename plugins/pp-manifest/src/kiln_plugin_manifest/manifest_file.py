"""The manifest file: add one build to it, safely among parallel writers and crashes.

Packer's manifest post-processor tries three times to create ``<output>.lock``, writes
anyway when it could not, and writes the file in place. Here the read-modify-write
holds a real lock (``flock``, through filelock, on ``.<name>.lock`` beside the manifest),
so parallel builds and parallel ``kiln build`` processes lose no entry; and the new
content goes to a temporary file in the same folder, flushed to disk, then renamed over
the old one, so a crash at any point leaves the old manifest or the new one, never
half of one.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from filelock import FileLock, Timeout

from kiln.sdk import PART_SUFFIX, BuildError, write_atomically

__all__ = ["add_build", "dumps", "lock_path", "read_manifest"]

#: seconds between checks (for cancellation) while another writer holds the lock
LOCK_POLL = 0.2

# Go's encoding/json escapes these inside strings (HTML safety, JavaScript line ends);
# Packer's manifests have them so, and byte-equal output needs the same. They can only
# occur inside strings, so escaping them in the whole text is safe.
_GO_ESCAPED = re.compile("[<>&\u2028\u2029]")


def dumps(document: dict[str, Any]) -> str:
    """``document`` as Packer writes a manifest: Go's ``json.MarshalIndent`` with a
    two-space indent, UTF-8 as is, ``<>&`` escaped, no final newline."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return _GO_ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def lock_path(path: str) -> str:
    """The lock file of the manifest at ``path``: hidden, in the same folder. It stays
    after use (removing a lock file others may wait on would let two writers in)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.lock")


def read_manifest(path: str) -> dict[str, Any]:
    """The manifest at ``path`` as a dict; ``{}`` when there is none (or it is empty)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise BuildError(f"Unable to open the manifest {path} for reading: {reason}.") from None
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BuildError(
            f"Unable to parse content from the manifest {path}: {exc}. Fix the file, or "
            "move it away to start a new manifest."
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("builds") or [], list):
        raise BuildError(
            f'The file {path} is not a manifest: expected an object with a "builds" list. '
            "Move it away, or write the manifest elsewhere with the output option."
        )
    return document


def add_build(
    path: str,
    entry: dict[str, Any],
    *,
    run_uuid: str,
    force: bool = False,
    waiting: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Append ``entry`` to the manifest at ``path`` and return the document written.

    With ``force``, a manifest last written by another run (``last_run_uuid`` is not
    ``run_uuid``) starts afresh, as Packer does with ``-force``; the builds of one run
    all stay. While another writer holds the lock, ``waiting(seconds waited)`` is called
    every :data:`LOCK_POLL` seconds: it may raise to give up (a cancelled build).
    """
    folder = os.path.dirname(path) or "."
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"Unable to create the folder {folder}: {exc.strerror}.") from None
    lock = FileLock(lock_path(path))
    try:
        _acquire(lock, waiting)
    except OSError as exc:
        raise BuildError(
            f"Unable to lock the manifest {path} ({lock.lock_file}): {exc.strerror}."
        ) from None
    try:
        _remove_stale_parts(path)
        document = read_manifest(path)
        if force and document.get("last_run_uuid") != run_uuid:
            document = {}
        builds = list(document.get("builds") or [])
        builds.append(entry)
        others = {k: v for k, v in document.items() if k not in ("builds", "last_run_uuid")}
        document = {"builds": builds, "last_run_uuid": run_uuid, **others}
        try:
            # a new manifest gets Packer's mode 0664 (less the umask)
            write_atomically(path, dumps(document).encode("utf-8"), mode=0o664)
        except OSError as exc:
            raise BuildError(f"Unable to write the manifest {path}: {exc.strerror}.") from None
    finally:
        lock.release()
    return document


def _acquire(lock: FileLock, waiting: Callable[[float], None] | None) -> None:
    start = time.monotonic()
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL)
            return
        except Timeout:
            if waiting is not None:
                waiting(time.monotonic() - start)


def _remove_stale_parts(path: str) -> None:
    """Remove the temporary files of writers that were killed mid-write. Only a writer
    holding the lock makes them, and the caller holds it now: any found are stale."""
    folder, name = os.path.split(path)
    prefix = f".{name}."
    with suppress(OSError):
        for found in os.listdir(folder or "."):
            if found.startswith(prefix) and found.endswith(PART_SUFFIX):
                with suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, found))
