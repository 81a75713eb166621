"""``kiln console``: evaluate expressions against a template's variables and locals."""

from __future__ import annotations

import sys

from kiln.cli.common import add_var_flags, load_template, print_diagnostics
from kiln.cli.flags import FlagSet, UsageError
from kiln.hcl.diagnostics import DiagnosticError, SourceCache
from kiln.hcl.eval import EvalError, NativeExpression, Scope
from kiln.hcl.loader import template_scope_values
from kiln.hcl.syntax import Source, parse_expression
from kiln.hcl.values import UNKNOWN, format_console
from kiln.ui.redact import redact_text

INPUT_NAME = "<console-input>"

HELP = """Usage: kiln console [options] [TEMPLATE]

  Creates a console for testing variable interpolation.
  If a template is provided, its variables and locals are available.

  Expressions are read from standard input, one per line; on a terminal the
  console is interactive. Type "exit" or press Ctrl-D to leave it.

Options:
  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables.
"""


def run(argv: list[str]) -> int:
    flags = FlagSet("console")
    flags.str("config-type")
    add_var_flags(flags)
    values, args = flags.parse(argv)
    if len(args) > 1:
        raise UsageError("kiln console takes at most one template path.")
    scope = Scope(values={"var": {}, "local": {}, "path": {"root": "."}})
    if args:
        template, diags = load_template(args[0], values, warn_undeclared_vars=False)
        if template is None or diags.has_errors:
            return 1
        scope_values = template_scope_values(template)
        scope = Scope(values=scope_values, base_dir=template.root)
    scope = scope.with_values(source=UNKNOWN, build=UNKNOWN)
    interactive = sys.stdin.isatty()
    failed = False
    while True:
        if interactive:
            sys.stdout.write("> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if interactive and text in ("exit", "quit"):
            break
        if not evaluate_line(text, scope):
            failed = True
    if interactive:
        sys.stdout.write("\n")
    return 1 if failed and not interactive else 0


def evaluate_line(text: str, scope: Scope) -> bool:
    """Print the value of one expression, or its error; True when it evaluated."""
    sources = SourceCache()
    sources.add(INPUT_NAME, text)
    try:
        node = parse_expression(text, Source(INPUT_NAME, text))
        value = NativeExpression(node).evaluate(scope)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return False
    except EvalError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return False
    sys.stdout.write(redact_text(format_console(value)) + "\n")
    return True
