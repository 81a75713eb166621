"""``kiln version``."""

from __future__ import annotations

import sys

from kiln import PACKER_COMPAT_VERSION, __version__

HELP = "Usage: kiln version\n\n  Prints the kiln version.\n"


def run(argv: list[str]) -> int:
    sys.stdout.write(f"kiln v{__version__} (Packer {PACKER_COMPAT_VERSION} compatible)\n")
    return 0
