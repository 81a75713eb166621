"""``kiln init``: install the plugins a template requires, pinned by its lock file."""

from __future__ import annotations

import sys

from kiln.cli.common import one_path, print_diagnostics
from kiln.cli.flags import FlagSet

HELP = """Usage: kiln init [options] [TEMPLATE]

  Install every plugin named in the template's required_plugins block, as the lock
  file next to the template (.kiln.lock.hcl) pins it. Without a lock file, or for
  plugins it does not name yet, resolve the version constraints against the
  package index first and write the lock. Commit the lock file with the template.

  With everything locked and already downloaded, kiln init needs no network.

Options:
  -upgrade             Resolve again within the version constraints, moving the
                       pins to the newest versions allowed, and install those.
  -force              Install the locked plugins again, even those already in
                       place (after a damaged install, say).
  -index-url=URL       The package index (PEP 503/691 simple API, or a file://
                       folder) to use for every plugin, over KILN_INDEX_URL and
                       the config file.
"""


def run(argv: list[str]) -> int:
    flags = FlagSet("init")
    flags.bool("upgrade")
    flags.bool("force")
    flags.str("index-url")
    values, args = flags.parse(argv)
    path = one_path(args, "init", default=".")

    from kiln.hcl.loader import LoadOptions, load
    from kiln.install.errors import InstallError
    from kiln.install.lockfile import template_requirements
    from kiln.install.workflow import LockFileError, init

    template, diags = load(path, LoadOptions(syntax_only=True))
    print_diagnostics(diags)
    if template is None or diags.has_errors:
        return 1
    requirements = template_requirements(template)
    if not requirements:
        sys.stdout.write(
            "No plugins requirement found, make sure you reference a kiln (Packer) config "
            "containing a packer.required_plugins block.\n"
        )
        return 0
    try:
        outcomes = init(
            requirements,
            path,
            upgrade=values["upgrade"],
            force=values["force"],
            index_url=values["index-url"] or None,
            say=lambda text: sys.stderr.write(text + "\n"),
        )
    except LockFileError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    except InstallError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    for outcome in outcomes:
        if outcome.fresh:
            plugin = outcome.plugin
            sys.stdout.write(
                f'Installed plugin {plugin.source} v{plugin.version} in "{outcome.folder}"\n'
            )
    return 0
