"""Running prepared builds: in parallel, each to its end, cleaned up on every path.

Builds run in worker threads (``-parallel-builds=N``, 0 for no limit); a failing
build does not stop the others unless ``fail_fast`` is set, in which case the rest
are cancelled (and clean up). Cancelling the root context (Ctrl-C) cancels every
build; each still runs its cleanups before :meth:`Runner.run` returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from kiln.engine.hook import ProvisionHook
from kiln.engine.postprocess import run_chains
from kiln.engine.prepare import PreparedBuild
from kiln.hcl.model import Template
from kiln.plugins.types import ReaperSpec
from kiln.sdk.components import Artifact
from kiln.sdk.context import BuildError, Cancelled, Context
from kiln.sdk.journal import Leftover
from kiln.ui.terminal import BuildUi, Output, human_duration

log = logging.getLogger("kiln.engine")


@dataclass
class BuildResult:
    name: str
    artifacts: list[Artifact] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False
    seconds: float = 0.0


@dataclass
class RunOptions:
    parallel: int = 0
    fail_fast: bool = False
    #: the plugins' reapers, to remove what a failed build's cleanup did not
    reapers: Mapping[str, ReaperSpec] = field(default_factory=dict)


class Runner:
    def __init__(
        self, template: Template, output: Output, root: Context, options: RunOptions
    ) -> None:
        self.template = template
        self.output = output
        self.root = root
        self.options = options

    def run(self, builds: list[PreparedBuild], poll: float = 0.2) -> list[BuildResult]:
        """Run every build; returns when all have finished and cleaned up.

        The calling thread only waits (in short slices, so signal handlers run).
        """
        if not builds:
            return []
        uis = {b.name: self.output.for_build(b.name) for b in builds}
        if self.output.color:
            for build in builds:
                ui = uis[build.name]
                self.output.emit(
                    "say", f"{build.name}: output will be in this color.", color=ui.color, bold=True
                )
            self.output.say("")
        workers = self.options.parallel or len(builds)
        if self.root.debug:
            workers = 1  # -debug pauses between steps: one build at a time, as Packer does
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
            futures = [pool.submit(self._build, build, uis[build.name]) for build in builds]
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=poll)
                if self.options.fail_fast and any(f.result().error for f in done):
                    self.root.cancel()
        return [f.result() for f in futures]

    def _build(self, build: PreparedBuild, ui: BuildUi) -> BuildResult:
        result = BuildResult(build.name)
        start = time.monotonic()
        hook = ProvisionHook(self.template, build)
        try:
            build.ctx.check()
            artifact = build.builder.run(ui, hook)
            if artifact is not None and build.ctx.cancelled:
                # interrupted during the builder's last cleanups: cancelled all the same,
                # and a cancelled build leaves nothing, its artifact included
                ui.say(f"Removing the artifact of the cancelled build: {artifact.id}")
                artifact.destroy()
                raise Cancelled("cancelled")
            if artifact is not None:
                result.artifacts = run_chains(self.template, build, ui, artifact, hook.generated)
        except Cancelled:
            result.cancelled = True
            result.error = "Build was cancelled."
        except BuildError as exc:
            result.error = str(exc)
        except Exception as exc:  # a component's bug: report it, keep the others going
            log.exception("build %s failed", build.name)
            result.error = f"{type(exc).__name__}: {exc}"
        if build.ctx.on_error == "cleanup":
            self._remove_leftovers(build, ui)
        result.seconds = time.monotonic() - start
        took = human_duration(result.seconds)
        if result.cancelled:
            self.output.error(f"Build '{build.name}' cancelled after {took}.")
        elif result.error is not None:
            self.output.error(f"Build '{build.name}' errored after {took}: {result.error}")
        else:
            self.output.emit(
                "say", f"Build '{build.name}' finished after {took}.", color=ui.color, bold=True
            )
        return result

    def _remove_leftovers(self, build: PreparedBuild, ui: BuildUi) -> None:
        """A build's own cleanup may miss something: interrupted after its last step,
        the artifact it would have handed over; a cleanup command that failed or that
        the user's Ctrl-C cut short, in a build that failed, was cancelled or even
        finished. What its journal still lists (its artifact is kept, not listed) goes
        now, through the reapers that ``kiln reap`` uses; what cannot stays listed for
        ``kiln reap``."""
        ctx = build.ctx.detached()
        mine = [e for e in ctx.journal.outstanding if e.build == ctx.journal_name]
        for entry in reversed(mine):
            spec = self.options.reapers.get(entry.reaper)
            if spec is None:
                continue
            leftover = Leftover(ctx.run_uuid, entry.build, entry.reaper, entry.kind, entry.details)
            ui.say(f"Removing what the cleanup left: {entry.describe()}")
            try:
                spec.reaper(ui, ctx).remove(leftover)
            except Exception as exc:  # a reaper's failure or bug: kiln reap tries again
                log.debug("reaper %s failed", entry.reaper, exc_info=True)
                ui.error(f"Could not remove {entry.describe()}: {exc}")
                continue
            entry.gone()
