"""A component's own folder in kiln's cache, for data it derives and can derive again."""

from __future__ import annotations

from pathlib import Path


def cache_folder(owner: str) -> Path:
    """``owner``'s folder in the user's kiln cache (``$KILN_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/kiln``), for data derived from something else (a model trimmed
    for speed, say), never for state: anything in it may be deleted at any time, and a
    cache folder that cannot be written should only cost speed. ``owner`` is the
    plugin's distribution name, so that plugins keep out of each other's way. The
    folder is not made here; :func:`kiln.sdk.write_atomically` makes it when it writes.
    """
    from kiln.install.settings import cache_dir

    return cache_dir() / owner
