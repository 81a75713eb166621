"""``kiln reap``: remove what builds that were killed left behind (kiln only)."""

from __future__ import annotations

import sys
from functools import cache

from kiln.cli.flags import FlagSet, UsageError

HELP = """Usage: kiln reap [options]

  Removes what builds that are over left behind: a build killed with SIGKILL, a
  crashed CI runner, a cleanup that failed, or -on-error=abort. Every kiln build
  writes down what it is about to create (containers, images, instances, key
  pairs, security groups, temporary folders...) in a journal under kiln's state
  folder ($KILN_STATE_DIR, else $XDG_STATE_HOME/kiln); kiln reap removes what the
  journals of finished runs still list, through the plugin that created it. Each
  plugin can also look for what no journal names (amazon: resources tagged with
  a kiln run that has no journal here). Runs still going are never touched, and
  running it twice is safe.

  It prints what it removed and what it could not, and exits non-zero when
  something could not be removed.

Options:

  -dry-run               Only print what would be removed.
  -older-than=DURATION   Only runs (and tagged resources) older than this, for
                         example 2h or 30m. (Default: 0s, every run that is over;
                         tagged resources of runs without a journal need 1h.)
  -color=false           Disable color output. (Default: color)
"""

#: resources found by a plugin's sweep, not by a journal, are left alone until this old
#: unless -older-than says otherwise: a build on another machine has no journal here
SWEEP_MINIMUM = 3600.0


def _flags() -> FlagSet:
    flags = FlagSet("reap")
    flags.bool("dry-run")
    flags.str("older-than", default="")
    flags.bool("color", default=True)
    return flags


def run(argv: list[str]) -> int:
    from kiln.cli.common import plugin_manager
    from kiln.engine.reap import Reap
    from kiln.hcl.durations import parse_duration
    from kiln.install.settings import journal_dir
    from kiln.plugins.manager import PluginManager, make_manager
    from kiln.sdk.context import Context
    from kiln.ui.log import setup_logging
    from kiln.ui.terminal import Output

    values, args = _flags().parse(argv)
    if args:
        raise UsageError(f"kiln reap takes no arguments; got {' '.join(args)!r}")
    older_than = 0.0
    if values["older-than"]:
        try:
            older_than = parse_duration(values["older-than"])
        except ValueError as exc:
            raise UsageError(f"-older-than: {exc}; give a duration such as 2h or 30m") from None
    setup_logging()

    @cache
    def managers(paths: tuple[str, ...]) -> PluginManager:
        # a run's own plugin folders; with none, every installed plugin (for the sweep)
        if paths:
            return make_manager(paths)
        pm = plugin_manager(None, strict=False)
        assert pm is not None  # not strict: lock problems only warn
        return pm

    output = Output(color=values["color"] and sys.stdout.isatty())
    reap = Reap(
        journal_dir(),
        managers,
        output.for_build("reap"),
        Context(),
        dry_run=values["dry-run"],
        older_than=older_than,
        sweep_older_than=older_than if values["older-than"] else SWEEP_MINIMUM,
    )
    report = reap.run()
    verb = "would remove" if values["dry-run"] else "removed"
    if report.removed or report.failed:
        failed = len(report.failed)
        summary = f"==> Reaped: {verb} {len(report.removed)}, could not remove {failed}."
    else:
        summary = "==> Nothing left behind to remove."
    if report.live:
        summary += f" Left alone: {len(report.live)} run(s) still going or too recent."
    output.say(summary)
    return 1 if report.failed else 0
