"""``kiln build``: run the builds of a template."""

from __future__ import annotations

import signal
import sys
import uuid
from types import FrameType

from kiln.cli.common import (
    add_filter_flags,
    add_var_flags,
    load_template,
    one_path,
    plugin_manager,
    print_diagnostics,
)
from kiln.cli.flags import FlagSet, UsageError
from kiln.engine.datasources import executor
from kiln.engine.prepare import prepare_builds
from kiln.engine.run import BuildResult, Runner, RunOptions
from kiln.hcl.loader import LoadOptions, load
from kiln.sdk.components import Artifact
from kiln.sdk.context import Context
from kiln.sdk.journal import Journal
from kiln.ui.log import setup_logging
from kiln.ui.terminal import Output, human_duration

HELP = """Usage: kiln build [options] TEMPLATE

  Will execute multiple builds in parallel as defined in the template.
  The various artifacts created by the template will be outputted.

Options:

  -color=false                  Disable color output. (Default: color)
  -debug                        Debug mode enabled for builds.
  -except=foo,bar,baz           Run all builds and post-processors other than these.
  -only=foo,bar,baz             Build only the specified builds.
  -force                        Force a build to continue if artifacts exist, deletes
                                existing artifacts.
  -machine-readable             Produce machine-readable output.
  -on-error=[cleanup|abort|ask|run-cleanup-provisioner]
                                If the build fails do: clean up (default), abort, ask,
                                or run-cleanup-provisioner.
  -parallel-builds=1            Number of builds to run in parallel. 1 disables parallelization.
                                0 means no limit (Default: 0)
  -fail-fast                    Cancel the other builds as soon as one fails (kiln only).
  -timeout=DURATION             Cancel the builds (and clean up) when they run longer
                                than this, for example 45m (kiln only).
  -timestamp-ui                 Enable prefixing of each ui output with an RFC3339 timestamp.
  -var 'key=value'              Variable for templates, can be used multiple times.
  -var-file=path                JSON or HCL2 file containing user variables, can be used
                                multiple times.
  -warn-on-undeclared-var       Show warnings for variable files containing undeclared variables.
"""

ON_ERROR = ("cleanup", "abort", "ask", "run-cleanup-provisioner")


def _flags() -> FlagSet:
    flags = FlagSet("build")
    flags.bool("color", default=True)
    flags.bool("debug")
    flags.bool("force")
    flags.bool("machine-readable")
    flags.str("on-error", default="cleanup")
    flags.int("parallel-builds", default=0)
    flags.bool("fail-fast")
    flags.bool("timestamp-ui")
    flags.str("timeout", default="")
    flags.bool("warn-on-undeclared-var")
    flags.str("config-type")
    add_var_flags(flags)
    add_filter_flags(flags)
    return flags


def run(argv: list[str]) -> int:
    values, args = _flags().parse(argv)
    path = one_path(args, "build")
    if values["on-error"] not in ON_ERROR:
        raise UsageError(f'-on-error="{values["on-error"]}" is not one of: {", ".join(ON_ERROR)}')
    if values["parallel-builds"] < 0:
        raise UsageError("-parallel-builds must be 0 (no limit) or a positive number")
    timeout = _timeout(values["timeout"])
    setup_logging()
    # The plugins come first (data sources run while the template loads), and which
    # plugins depends on the template's required_plugins: a quick structural load.
    pm = plugin_manager(load(path, LoadOptions(syntax_only=True))[0])
    if pm is None:
        return 1
    template, diags = load_template(
        path,
        values,
        warn_undeclared_vars=values["warn-on-undeclared-var"],
        execute_datasource=executor(pm),
    )
    if template is None or diags.has_errors:
        return 1
    run_uuid = str(uuid.uuid4())
    journal = _journal(run_uuid, pm.paths)
    if journal is None:
        return 1
    root = Context(
        run_uuid=run_uuid,
        debug=values["debug"],
        force=values["force"],
        on_error=values["on-error"],
        template_dir=template.root,
        versions=pm.versions(),
        journal=journal,
    ).child(timeout=timeout)
    output = Output(
        color=values["color"] and sys.stdout.isatty(),
        timestamp=values["timestamp-ui"],
        machine=values["machine-readable"],
    )
    try:
        builds, problems = prepare_builds(template, pm, values["only"], values["except"], root)
        print_diagnostics(problems)
        if any(d.is_error for d in problems):
            return 1
        options = RunOptions(values["parallel-builds"], values["fail-fast"], pm.reapers())
        runner = Runner(template, output, root, options)
        with _interrupts(output, root):
            results = runner.run(builds)
        return _summary(output, results, root, values["timeout"])
    finally:
        _close_journal(output, journal)


def _timeout(text: str) -> float | None:
    if not text:
        return None
    from kiln.hcl.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"-timeout: {exc}; give a duration such as 45m or 1h30m") from None
    if seconds <= 0:
        raise UsageError(f'-timeout="{text}" must be longer than 0s')
    return seconds


def _journal(run_uuid: str, paths: list[str]) -> Journal | None:
    """The run's cleanup journal (see kiln.sdk.journal); None, with the error said,
    when it cannot be written: building without one could leak what a kill leaves."""
    from kiln import __version__
    from kiln.install.settings import journal_dir

    folder = journal_dir()
    try:
        return Journal.create(folder, run_uuid, paths=paths, kiln=__version__)
    except OSError as exc:
        sys.stderr.write(
            f"Error: kiln cannot write its cleanup journal in {folder}: {exc.strerror}. "
            "Make that folder writable, or point KILN_STATE_DIR at one that is.\n"
        )
        return None


def _close_journal(output: Output, journal: Journal) -> None:
    left = journal.outstanding
    journal.close()
    if left:
        output.error(
            f"\n==> {len(left)} resource(s) of this run were not removed; "
            f"'kiln reap' removes them (journal: {journal.path}):"
        )
        for entry in left:
            build = f"{entry.build}: " if entry.build else ""
            output.error(f"--> {build}{entry.describe()}")


class _interrupts:
    """SIGINT/SIGTERM cancel the builds; a second one only says cleanup is running."""

    def __init__(self, output: Output, root: Context) -> None:
        self.output = output
        self.root = root
        self.previous: dict[int, object] = {}

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.root.cancelled:
            self.output.error(
                "==> Cleanup is in progress: kiln waits for it to finish so nothing is left behind."
            )
            return
        # cancelled before saying so: a second signal arriving during the message (the
        # handler can run again inside itself) then reads as the second one
        self.root.cancel()
        self.output.error("==> Interrupt received: cancelling builds and cleaning up...")

    def __enter__(self) -> _interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self.handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _summary(output: Output, results: list[BuildResult], root: Context, timeout: str) -> int:
    total = max((r.seconds for r in results), default=0.0)
    output.say(f"\n==> Wait completed after {human_duration(total)}")
    failed = [r for r in results if r.error is not None]
    if root.timed_out:
        output.error(f"\n==> Builds cancelled and cleaned up: -timeout={timeout} ran out.")
        return 1
    if root.cancelled:
        output.error("\n==> Cleanly cancelled builds after being interrupted.")
        return 1
    if failed:
        output.machine("", "error-count", str(len(failed)))
        output.error("\n==> Some builds didn't complete successfully and had errors:")
        for result in failed:
            output.machine(result.name, "error", result.error or "")
            output.error(f"--> {result.name}: {result.error}")
    artifacts = [(r.name, a) for r in results if r.error is None for a in r.artifacts]
    if not artifacts:
        output.say("\n==> Builds finished but no artifacts were created.")
    else:
        output.say("\n==> Builds finished. The artifacts of successful builds are:")
        for result in results:
            if result.error is not None or not result.artifacts:
                continue
            output.machine(result.name, "artifact-count", str(len(result.artifacts)))
            for index, artifact in enumerate(result.artifacts):
                _machine_artifact(output, result.name, index, artifact)
                output.say(f"--> {result.name}: {artifact.string()}")
    return 1 if failed else 0


def _machine_artifact(output: Output, name: str, index: int, artifact: Artifact) -> None:
    i = str(index)
    output.machine(name, "artifact", i, "builder-id", artifact.builder_id)
    output.machine(name, "artifact", i, "id", artifact.id)
    output.machine(name, "artifact", i, "string", artifact.string())
    output.machine(name, "artifact", i, "files-count", str(len(artifact.files)))
    for n, path in enumerate(artifact.files):
        output.machine(name, "artifact", i, "file", str(n), path)
    output.machine(name, "artifact", i, "end")
