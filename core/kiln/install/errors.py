"""The one error type of plugin distribution."""

from __future__ import annotations


class InstallError(Exception):
    """A problem the user must fix; the message says what happened and what to do."""


def hash_mismatch(file: str, actual: str, expected: str, pinned_by: str) -> InstallError:
    """The refusal of a file whose sha256 is not the one ``pinned_by`` gives (the lock
    file, or the index)."""
    hint = " If the new file is trusted, run 'kiln init -upgrade'." if "lock" in pinned_by else ""
    return InstallError(
        f"{file} does not match the hash in {pinned_by}: expected sha256 {expected}, got "
        f"{actual}. The file may have been tampered with, or re-published under the same "
        f"name; nothing was installed.{hint}"
    )
