"""Adds one large build to a manifest through the plugin's own write path, so that a
test can kill it mid-write:

    python manifest_writer.py PATH SIZE [--pause-before-rename]

It prints ``writing`` just before it starts (a test times its kill from there) and
``done`` at the end. ``--pause-before-rename`` makes it stop, with the complete
temporary file on disk and the lock held, right before the rename, and print
``renaming``: the worst moment to die.
"""

from __future__ import annotations

import os
import sys
import time

from kiln_plugin_manifest import manifest_file


def main() -> None:
    path, size = sys.argv[1], int(sys.argv[2])
    if "--pause-before-rename" in sys.argv[3:]:
        rename = os.replace

        def paused(src: str, dst: str) -> None:
            print("renaming", flush=True)
            time.sleep(60)
            rename(src, dst)

        manifest_file.os.replace = paused  # type: ignore[assignment]
    entry = {"name": "big", "builder_type": "null", "custom_data": {"blob": "x" * size}}
    print("writing", flush=True)
    manifest_file.add_build(path, entry, run_uuid="killed-run")
    print("done", flush=True)


if __name__ == "__main__":
    main()
