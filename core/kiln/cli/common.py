"""What several commands share: variable flags, loading a template, printing diagnostics."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kiln.cli.flags import FlagSet, UsageError
from kiln.hcl.diagnostics import Diagnostic, Diagnostics, Severity, SourceCache, render
from kiln.hcl.loader import LoadOptions, load
from kiln.hcl.model import Template
from kiln.ui.redact import redact_text

if TYPE_CHECKING:
    from kiln.plugins.manager import PluginManager


def add_var_flags(flags: FlagSet) -> None:
    flags.list("var", help="Variable for templates, can be used multiple times.")
    flags.list("var-file", help="JSON or HCL2 file containing user variables.")


def add_filter_flags(flags: FlagSet) -> None:
    flags.csv("only", help="Validate only these builds (comma-separated globs).")
    flags.csv("except", help="Validate all builds other than these (comma-separated globs).")


def parse_var_flags(values: dict[str, Any]) -> list[tuple[str, str]]:
    """``-var name=value`` pairs in command-line order."""
    pairs = []
    for item in values["var"]:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f'-var "{item}": expected the form name=value')
        pairs.append((name, value))
    return pairs


def load_template(
    path: str, values: dict[str, Any], **options: Any
) -> tuple[Template | None, Diagnostics]:
    """Load ``path`` with the -var and -var-file flags given, and print what it found."""
    load_options = LoadOptions(
        vars=parse_var_flags(values), var_files=values["var-file"], **options
    )
    template, diags = load(path, load_options)
    print_diagnostics(diags)
    return template, diags


def plugin_manager(template: Template | None = None, strict: bool = True) -> PluginManager | None:
    """Built-in plugins, the ones ``template``'s lock file names (checked), the plugin
    home's others and the environment's. Problems are printed; None when the lock
    stops the command (never when not ``strict``: then they are only warnings). A
    plugin that failed to import is reported, once."""
    from kiln.install.lockfile import load_folders
    from kiln.plugins.manager import make_manager

    folders, diags = load_folders(template)
    if not strict:
        diags = [replace(d, severity=Severity.WARNING) for d in diags]
    print_diagnostics(diags)
    if any(d.is_error for d in diags):
        return None
    pm = make_manager([str(f) for f in folders])
    for problem in pm.load_errors:
        sys.stderr.write(f"Error: {redact_text(problem)}\n")
    return pm


def one_path(args: list[str], command: str, default: str | None = None) -> str:
    if not args and default is not None:
        return default
    if len(args) != 1:
        raise UsageError(
            f"kiln {command} takes exactly one template path (a file or a folder); "
            f"got {len(args)}. Run 'kiln {command} -h' for usage."
        )
    return args[0]


def print_diagnostics(
    diags: Diagnostics | list[Diagnostic], sources: SourceCache | None = None
) -> None:
    """Warnings first, then errors, all to stderr, with sensitive values redacted."""
    sources = sources or SourceCache()
    items = list(diags)
    seen: set[Diagnostic] = set()
    for diag in [d for d in items if not d.is_error] + [d for d in items if d.is_error]:
        if diag in seen:
            continue
        seen.add(diag)
        sys.stderr.write(render(diag, sources, redact_text) + "\n")
