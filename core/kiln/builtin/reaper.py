"""The reaper of what kiln's own code makes on this machine: temporary folders
(:class:`kiln.sdk.TempFolder`), which may hold keys and login credentials."""

from __future__ import annotations

from kiln.sdk import BuildError, Leftover, Reaper
from kiln.sdk.journal import remove_tree


class LocalReaper(Reaper):
    """Removes the temporary folders of builds that were killed."""

    def remove(self, leftover: Leftover) -> None:
        path = leftover.details.get("path")
        if leftover.kind != "local-folder" or not isinstance(path, str):
            raise BuildError(f"kiln does not know how to remove a {leftover.kind!r} record")
        try:
            remove_tree(path)
        except OSError as exc:
            raise BuildError(f"{exc.strerror}: {path}") from None
