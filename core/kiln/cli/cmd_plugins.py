"""``kiln plugins``: what is installed (``installed``); more subcommands come with
plugin distribution."""

from __future__ import annotations

import sys

from kiln.cli.common import plugin_manager
from kiln.cli.flags import UsageError

HELP = """Usage: kiln plugins <subcommand> [options] [args]

  Interact with kiln's plugins.

Subcommands:

    installed    List every component kiln can use: its kind, name, the
                 distribution that provides it and that distribution's version.
"""

SUBCOMMANDS = ("installed",)


def run(argv: list[str]) -> int:
    if not argv or argv[0] not in SUBCOMMANDS:
        got = f'"{argv[0]}"' if argv else "nothing"
        raise UsageError(
            f"kiln plugins needs a subcommand ({', '.join(SUBCOMMANDS)}); got {got}. "
            "Run 'kiln plugins -h' for usage."
        )
    if len(argv) > 1:
        raise UsageError("kiln plugins installed takes no arguments")
    return _installed()


def _installed() -> int:
    pm = plugin_manager()
    rows = [("KIND", "NAME", "DISTRIBUTION", "VERSION")]
    for item in sorted(pm.installed(), key=lambda i: (i.kind, i.name)):
        rows.append((item.kind, item.name, item.provider.distribution, item.provider.version))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[3]]) + "\n")
    return 1 if pm.load_errors else 0
