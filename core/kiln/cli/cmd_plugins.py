"""``kiln plugins``: install, list, remove plugins, and show what a template requires."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kiln.cli.common import one_path, plugin_manager, print_diagnostics
from kiln.cli.flags import FlagSet, UsageError

HELP = """Usage: kiln plugins <subcommand> [options] [args]

  Interact with kiln's plugins.

Subcommands:

    install SOURCE [VERSION]   Install the newest (or the given) version of a
                               plugin into the plugin home, with no lock file.
                               Option: -index-url=URL.
    installed                  List the plugin folders in the plugin home, then
                               every component kiln can use: its kind, name, and
                               the distribution (and version) that provides it.
    remove SOURCE [VERSION]    Remove every installed version of a plugin (or the
                               given one) from the plugin home.
    required [TEMPLATE]        List the plugins the template requires, the version
                               its lock file pins and where that is installed.
"""

SUBCOMMANDS = ("install", "installed", "remove", "required")


def run(argv: list[str]) -> int:
    if not argv or argv[0] not in SUBCOMMANDS:
        got = f'"{argv[0]}"' if argv else "nothing"
        raise UsageError(
            f"kiln plugins needs a subcommand ({', '.join(SUBCOMMANDS)}); got {got}. "
            "Run 'kiln plugins -h' for usage."
        )
    from kiln.install.errors import InstallError

    name, rest = argv[0], argv[1:]
    try:
        return int(COMMANDS[name](rest))
    except InstallError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1


def _source_version(argv: list[str], command: str) -> tuple[dict[str, object], str, str | None]:
    flags = FlagSet(f"plugins {command}")
    if command == "install":
        flags.str("index-url")
    values, args = flags.parse(argv)
    if not 1 <= len(args) <= 2:
        raise UsageError(
            f"kiln plugins {command} takes a plugin source and, optionally, a version "
            f"(kiln plugins {command} github.com/hashicorp/docker 1.0.0); got {len(args)} "
            "arguments"
        )
    from kiln.hcl.requirements import ConstraintError, parse_source_address

    try:
        parse_source_address(args[0])
    except ConstraintError as exc:
        raise UsageError(f'"{args[0]}" is not a plugin source: {exc}') from None
    version = args[1] if len(args) == 2 else None
    if version is not None:
        from packaging.version import InvalidVersion, Version

        try:
            Version(version.lstrip("v"))
        except InvalidVersion:
            raise UsageError(f'"{version}" is not a version (like 1.2.0)') from None
    return values, args[0], version


def _install(argv: list[str]) -> int:
    from kiln.install.workflow import install_source

    values, source, version = _source_version(argv, "install")
    index_url = values["index-url"]
    outcome = install_source(
        source,
        version,
        index_url=str(index_url) if index_url else None,
        say=lambda text: sys.stderr.write(text + "\n"),
    )
    plugin = outcome.plugin
    state = "Installed" if outcome.fresh else "Already installed:"
    sys.stdout.write(f'{state} plugin {plugin.source} v{plugin.version} in "{outcome.folder}"\n')
    return 0


def _remove(argv: list[str]) -> int:
    from kiln.install.workflow import remove_source

    _values, source, version = _source_version(argv, "remove")
    for folder in remove_source(source, version):
        sys.stdout.write(f"{folder.path}\n")
    return 0


def _installed(argv: list[str]) -> int:
    if argv:
        raise UsageError("kiln plugins installed takes no arguments")
    from kiln.install.lockfile import installed_folders
    from kiln.install.settings import plugin_home

    home = plugin_home()
    for folder in installed_folders(home) if home.is_dir() else []:
        sys.stdout.write(f"{folder.source} {folder.version} {folder.path}\n")
    pm = plugin_manager()
    assert pm is not None  # without a template there is no lock to refuse
    rows = [("KIND", "NAME", "DISTRIBUTION", "VERSION")]
    for item in sorted(pm.installed(), key=lambda i: (i.kind, i.name)):
        rows.append((item.kind, item.name, item.provider.distribution, item.provider.version))
    _table(rows)
    return 1 if pm.load_errors else 0


def _required(argv: list[str]) -> int:
    from kiln.hcl.loader import LoadOptions, load
    from kiln.install.lockfile import lock_path, read_lock, stale_reason, template_requirements
    from kiln.install.names import distribution_for
    from kiln.install.settings import plugin_home

    path = one_path(argv, "plugins required", default=".")
    template, diags = load(path, LoadOptions(syntax_only=True))
    lock, lock_diags = read_lock(lock_path(path)) if template is not None else (None, [])
    print_diagnostics([*diags, *lock_diags])
    if template is None or diags.has_errors:
        return 1
    home = plugin_home()
    rows = [("NAME", "SOURCE", "CONSTRAINT", "DISTRIBUTION", "LOCKED", "STATUS")]
    for req in template_requirements(template):
        locked = lock.plugins.get(req.source) if lock else None
        if locked is None:
            version, status = "-", "not locked: run 'kiln init'"
        elif stale_reason(locked, req):
            version, status = locked.version, "stale: run 'kiln init -upgrade'"
        elif locked.installed(home):
            version, status = locked.version, str(locked.folder(home))
        else:
            version, status = locked.version, "not installed: run 'kiln init'"
        rows.append(
            (
                req.name,
                req.source,
                req.constraints or "any",
                distribution_for(req.source),
                version,
                status,
            )
        )
    if len(rows) == 1:
        sys.stdout.write("The template has no required_plugins block.\n")
        return 0
    _table(rows)
    return 0


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[-1]]) + "\n")


COMMANDS = {
    "install": _install,
    "installed": _installed,
    "remove": _remove,
    "required": _required,
}
