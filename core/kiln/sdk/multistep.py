"""Builders as lists of steps: the shape that makes cleanup impossible to forget.

Each :class:`Step` has ``run`` and ``cleanup``. :func:`run_steps` runs them in order
until one halts, fails or the build is cancelled, then cleans up every step that ran,
in reverse order, on every path. What ``-on-error`` asks for happens here: ``abort``
leaves everything in place, ``ask`` offers clean up, abort or retry, and
``run-cleanup-provisioner`` skips cleanups except the provisioning step's (which runs
the ``error-cleanup-provisioner``). With ``-debug`` the runner pauses after each step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from enum import Enum
from typing import Any, ClassVar

from kiln.sdk.context import BuildError, Cancelled, Context
from kiln.sdk.ui import Ui


class Action(Enum):
    CONTINUE = "continue"
    HALT = "halt"


class StateBag(dict[str, Any]):
    """What steps share: ``ui``, ``hook``, ``communicator``, ``error``, and anything a
    builder puts there (``instance_id``, ``container_id``...)."""


class Step:
    """One step of a build. ``run`` returns CONTINUE or HALT (after putting an
    ``error`` in the state) or raises; ``cleanup`` undoes what ``run`` made."""

    #: runs its cleanup even under ``-on-error=run-cleanup-provisioner``
    cleanup_on_abort: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def run(self, state: StateBag) -> Action:
        raise NotImplementedError

    def cleanup(self, state: StateBag) -> None:
        """Undo what ``run`` created; runs even when ``run`` failed part-way."""


ASK_PROMPT = (
    "[c] Clean up and exit, [a] abort without cleanup, or [r] retry step "
    "(build may fail even if retry succeeds)?"
)


def run_steps(ctx: Context, steps: Sequence[Step], state: StateBag, ui: Ui) -> None:
    """Run ``steps`` and clean up; raise the failure (or :class:`Cancelled`) after."""
    ran: list[Step] = []
    skip_cleanup = False
    try:
        for step in steps:
            if ctx.cancelled:
                state["cancelled"] = True
                break
            ran.append(step)
            action = _run_one(ctx, step, state)
            while action is Action.HALT and "error" in state and not state.get("cancelled"):
                choice = _on_error(ctx, step, state, ui)
                if choice != "retry":
                    skip_cleanup = choice == "abort"
                    break
                del state["error"]
                action = _run_one(ctx, step, state)
            if action is Action.HALT:
                state["halted"] = True
                break
            if ctx.debug and step is not steps[-1]:
                _pause(ui, f"Pausing after run of step '{step.name}'. Press enter to continue.")
    finally:
        for step in reversed(ran):
            if skip_cleanup and not (
                step.cleanup_on_abort and ctx.on_error == "run-cleanup-provisioner"
            ):
                continue
            if ctx.debug:
                _pause(
                    ui, f"Pausing before cleanup of step '{step.name}'. Press enter to continue."
                )
            try:
                step.cleanup(state)
            except Exception as exc:  # one failed cleanup must not stop the others
                _log_failure("cleanup of %s failed", step.name)
                ui.error(f"Error cleaning up ({step.name}): {exc}")
    if "error" in state:
        raise state["error"]
    if state.get("cancelled"):
        raise Cancelled("Build was cancelled.")


def _run_one(ctx: Context, step: Step, state: StateBag) -> Action:
    try:
        return step.run(state)
    except Cancelled:
        state["cancelled"] = True
        return Action.HALT
    except Exception as exc:
        if ctx.cancelled:
            state["cancelled"] = True
        else:
            _log_failure("step %s failed", step.name)
            state["error"] = exc if isinstance(exc, BuildError) else _wrap(exc)
        return Action.HALT


def _log_failure(message: str, name: str) -> None:
    """Log the exception being handled, for ``PACKER_LOG``; logging is imported only
    here, so that commands that run no step (validate) do not import it."""
    import logging

    logging.getLogger("kiln.multistep").debug(message, name, exc_info=True)


def _wrap(exc: Exception) -> Exception:
    """Keep the exception (for the crash log) but give the user a one-line message."""
    wrapped = BuildError(str(exc) or type(exc).__name__)
    wrapped.__cause__ = exc
    return wrapped


def _on_error(ctx: Context, step: Step, state: StateBag, ui: Ui) -> str:
    """What to do with a failed step: "cleanup", "abort" or "retry"."""
    if ctx.on_error in ("abort", "run-cleanup-provisioner"):
        ui.error(f"Step '{step.name}' failed; -on-error={ctx.on_error}: skipping cleanup.")
        return "abort"
    if ctx.on_error != "ask":
        return "cleanup"
    ui.error(f"Step '{step.name}' failed with error: {state['error']}")
    while True:
        try:
            answer = ui.ask(ASK_PROMPT).strip().lower()
        except EOFError:
            ui.error("-on-error=ask: no terminal to ask at; cleaning up.")
            return "cleanup"
        if answer in ("c", "a", "r"):
            return {"c": "cleanup", "a": "abort", "r": "retry"}[answer]


def _pause(ui: Ui, message: str) -> None:
    with contextlib.suppress(EOFError):
        ui.ask(message)
