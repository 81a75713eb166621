"""``kiln hcl2_upgrade``: turn a legacy JSON template into an HCL2 configuration."""

from __future__ import annotations

import os
import sys

from kiln.cli.common import one_path, print_diagnostics
from kiln.cli.flags import FlagSet
from kiln.files import write_atomically
from kiln.hcl.diagnostics import DiagnosticError, error

HELP = """Usage: kiln hcl2_upgrade [options] TEMPLATE

  Transforms a legacy JSON template into an HCL2 configuration that means
  the same thing, and writes it next to the template.

Options:

  -output-file=path    Where to write the result. The default is the TEMPLATE
                       path with ".pkr.hcl" appended. kiln reads a file as
                       HCL2 only when its name ends in ".pkr.hcl".
  -with-annotations    Add comments that explain each part of the result.
"""


def _flags() -> FlagSet:
    flags = FlagSet("hcl2_upgrade")
    flags.str("output-file", help="Where to write the HCL2 configuration.")
    flags.bool("with-annotations", help="Add explanatory comments.")
    return flags


def run(argv: list[str]) -> int:
    from kiln.hcl.upgrade import upgrade

    values, args = _flags().parse(argv)
    path = one_path(args, "hcl2_upgrade")
    output = values["output-file"] or path + ".pkr.hcl"
    if path.endswith((".pkr.hcl", ".pkr.json")):
        print_diagnostics(
            [
                error(
                    "Not a legacy JSON template",
                    f'"{path}" is already an HCL2 configuration; hcl2_upgrade reads legacy '
                    "JSON templates (builders, provisioners, post-processors).",
                )
            ]
        )
        return 1
    if not os.path.isfile(path):
        print_diagnostics([error("No such template", f'"{path}" does not exist or is not a file.')])
        return 1
    try:
        result = upgrade(path, with_annotations=values["with-annotations"], filename=output)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    print_diagnostics(result.diagnostics)
    try:
        write_atomically(output, result.text.encode("utf-8"))
    except OSError as exc:
        print_diagnostics(
            [error("Failed to write the output file", f'Cannot write "{output}": {exc}.')]
        )
        return 1
    sys.stdout.write(f"Successfully created {output}\n")
    return 0
