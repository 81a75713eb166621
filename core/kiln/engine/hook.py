"""The provision hook: runs a build's provisioners when its builder reaches them.

Each provisioner's configuration is decoded again here, with the build's generated
values (``build.ID``, ``build.Host``...) now known, then prepared and run with
Packer's meta-arguments: ``pause_before``, ``max_retries`` (with backoff) and
``timeout`` (enforced: the provisioner's work is cancelled, unlike Packer's).
"""

from __future__ import annotations

from typing import Any

from kiln.engine.prepare import PreparedBuild, PreparedStep, configure, decode_step
from kiln.hcl.diagnostics import Diagnostic, SourceCache, render
from kiln.hcl.model import Provisioner, Template
from kiln.sdk.communicator import Communicator
from kiln.sdk.components import HOOK_CLEANUP_PROVISION, HOOK_PROVISION, Hook
from kiln.sdk.config import format_duration
from kiln.sdk.context import BuildError, Cancelled, Context
from kiln.sdk.ui import Ui

#: first wait between provisioner retries; it doubles up to RETRY_MAX
RETRY_BACKOFF = 1.0
RETRY_MAX = 30.0


class ProvisionHook(Hook):
    def __init__(self, template: Template, build: PreparedBuild) -> None:
        self.template = template
        self.build = build
        #: the build's generated data, as last seen (post-processors use it)
        self.generated: dict[str, Any] = {}

    def run(self, name: str, ui: Ui, comm: Communicator | None, data: dict[str, Any]) -> None:
        self.generated = {**data, "PackerRunUUID": self.build.ctx.run_uuid}
        if name == HOOK_PROVISION:
            for step in self.build.provisioners:
                provision(self.template, self.build, step, ui, comm, self.generated)
        elif name == HOOK_CLEANUP_PROVISION:
            ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...")
            if self.build.error_cleanup is not None:
                ctx = self.build.ctx.detached()
                provision(
                    self.template,
                    self.build,
                    self.build.error_cleanup,
                    ui,
                    comm,
                    self.generated,
                    ctx,
                )


def provision(
    template: Template,
    build: PreparedBuild,
    step: PreparedStep,
    ui: Ui,
    comm: Communicator | None,
    generated: dict[str, Any],
    ctx: Context | None = None,
) -> None:
    block = step.block
    assert isinstance(block, Provisioner)
    ctx = ctx or build.ctx
    if block.pause_before:
        ui.say(f"Pausing {format_duration(block.pause_before)} before the next provisioner...")
        ctx.sleep(block.pause_before)
    config = decoded(step, build, template, generated)
    delay = RETRY_BACKOFF
    for attempt in range(block.max_retries + 1):
        run_ctx = ctx.child(timeout=block.timeout or None)
        provisioner = step.spec.component(run_ctx)
        problems = configure(provisioner, config)
        raise_errors(problems)
        try:
            provisioner.provision(ui, comm, generated)  # type: ignore[attr-defined]
            return
        except Cancelled:
            if ctx.cancelled or not run_ctx.timed_out:
                raise
            failure: Exception = BuildError(
                f'The "{block.type}" provisioner timed out after {format_duration(block.timeout)}.'
            )
        except Exception as exc:
            if ctx.cancelled:
                raise Cancelled("cancelled") from exc
            failure = exc
        left = block.max_retries - attempt
        if left == 0:
            raise failure
        ui.error(f'Provisioner failed with "{failure}", retrying with {left} trie(s) left')
        ctx.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)


def decoded(
    step: PreparedStep, build: PreparedBuild, template: Template, generated: dict[str, Any]
) -> Any:
    """The step's configuration with the build's values known, or a BuildError."""
    config, diags = decode_step(step, build.planned, build.scope(template, generated))
    raise_errors(diags)
    return config


def raise_errors(diags: list[Diagnostic]) -> None:
    errors = [d for d in diags if d.is_error]
    if errors:
        sources = SourceCache()
        raise BuildError("\n".join(render(d, sources) for d in errors))
