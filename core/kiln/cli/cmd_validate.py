"""``kiln validate``: check that a template is valid."""

from __future__ import annotations

import sys

from kiln.cli.common import (
    add_filter_flags,
    add_var_flags,
    one_path,
    parse_var_flags,
    plugin_manager,
    print_diagnostics,
)
from kiln.cli.flags import FlagSet
from kiln.hcl.loader import LoadOptions, load

HELP = """Usage: kiln validate [options] TEMPLATE

  Checks the template is valid by parsing the template and also
  checking the configuration with the various builders, provisioners, etc.

  If it is not valid, the errors will be shown and the command will exit
  with a non-zero exit status. If it is valid, it will exit with a zero
  exit status.

Options:

  -syntax-only           Only check syntax. Do not verify config of the template.
  -except=foo,bar,baz    Validate all builds other than these.
  -only=foo,bar,baz      Validate only these builds.
  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables, can be used multiple times.
  -no-warn-undeclared-var  Ignore var-file entries that no variable declares.
"""


def _flags() -> FlagSet:
    flags = FlagSet("validate")
    flags.bool("syntax-only")
    flags.bool("no-warn-undeclared-var")
    flags.bool("evaluate-datasources")
    flags.str("config-type")
    add_var_flags(flags)
    add_filter_flags(flags)
    return flags


def run(argv: list[str]) -> int:
    values, args = _flags().parse(argv)
    path = one_path(args, "validate")
    options = LoadOptions(
        vars=parse_var_flags(values),
        var_files=values["var-file"],
        syntax_only=values["syntax-only"],
        warn_undeclared_vars=not values["no-warn-undeclared-var"],
    )
    template, diags = load(path, options)
    if template is not None and not diags.has_errors and not values["syntax-only"]:
        from kiln.engine.prepare import prepare_builds

        pm = plugin_manager(template)
        if pm is None:
            return 1
        diags.extend(prepare_builds(template, pm, values["only"], values["except"])[1])
    print_diagnostics(diags)
    if diags.has_errors:
        return 1
    if values["syntax-only"]:
        sys.stdout.write("Syntax-only check passed. Everything looks okay.\n")
    else:
        sys.stdout.write("The configuration is valid.\n")
    return 0
