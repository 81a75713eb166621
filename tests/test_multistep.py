"""The multistep runner and the build context: cleanup on every path, -on-error, -debug."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kiln.sdk import Action, BuildError, Cancelled, Context, StateBag, Step, run_steps
from kiln.testing import MockUi


class Record(Step):
    def __init__(self, name: str, log: list[str], action: Any = Action.CONTINUE) -> None:
        self._name = name
        self.log = log
        self.action = action

    @property
    def name(self) -> str:
        return self._name

    def run(self, state: StateBag) -> Action:
        self.log.append(f"run {self._name}")
        if isinstance(self.action, Exception):
            raise self.action
        if callable(self.action):
            return self.action(state)  # type: ignore[no-any-return]
        return self.action  # type: ignore[no-any-return]

    def cleanup(self, state: StateBag) -> None:
        self.log.append(f"cleanup {self._name}")


def test_every_step_that_ran_is_cleaned_up_in_reverse_order() -> None:
    log: list[str] = []
    run_steps(Context(), [Record("a", log), Record("b", log)], StateBag(), MockUi())
    assert log == ["run a", "run b", "cleanup b", "cleanup a"]


def test_a_failing_step_stops_the_run_and_its_error_is_raised_after_cleanup() -> None:
    log: list[str] = []
    steps = [Record("a", log), Record("b", log, BuildError("boom")), Record("c", log)]
    with pytest.raises(BuildError, match="boom"):
        run_steps(Context(), steps, StateBag(), MockUi())
    assert log == ["run a", "run b", "cleanup b", "cleanup a"]


def test_an_unexpected_exception_becomes_a_build_error_keeping_its_cause() -> None:
    with pytest.raises(BuildError) as info:
        run_steps(Context(), [Record("a", [], KeyError("k"))], StateBag(), MockUi())
    assert isinstance(info.value.__cause__, KeyError)


def test_failing_steps_and_cleanups_are_logged_with_their_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """For PACKER_LOG: the log has what the message to the user leaves out."""

    class BadCleanup(Record):
        def cleanup(self, state: StateBag) -> None:
            raise RuntimeError("cannot remove")

    caplog.set_level("DEBUG", logger="kiln.multistep")
    steps = [BadCleanup("a", []), Record("b", [], KeyError("k"))]
    with pytest.raises(BuildError):
        run_steps(Context(), steps, StateBag(), MockUi())
    assert [r.getMessage() for r in caplog.records] == ["step b failed", "cleanup of a failed"]
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [KeyError, RuntimeError]


def test_a_halting_step_with_an_error_in_the_state_fails_the_run() -> None:
    def halt(state: StateBag) -> Action:
        state["error"] = BuildError("halted")
        return Action.HALT

    log: list[str] = []
    with pytest.raises(BuildError, match="halted"):
        run_steps(Context(), [Record("a", log, halt), Record("b", log)], StateBag(), MockUi())
    assert log == ["run a", "cleanup a"]


def test_a_failing_cleanup_is_reported_and_the_others_still_run() -> None:
    log: list[str] = []

    class BadCleanup(Record):
        def cleanup(self, state: StateBag) -> None:
            raise RuntimeError("cannot remove")

    ui = MockUi()
    run_steps(Context(), [Record("a", log), BadCleanup("b", log)], StateBag(), ui)
    assert log == ["run a", "run b", "cleanup a"]
    assert any("cannot remove" in e for e in ui.errors)


def test_abort_skips_every_cleanup() -> None:
    log: list[str] = []
    with pytest.raises(BuildError):
        run_steps(
            Context(on_error="abort"),
            [Record("a", log), Record("b", log, BuildError("x"))],
            StateBag(),
            MockUi(),
        )
    assert log == ["run a", "run b"]


def test_run_cleanup_provisioner_keeps_only_the_provisioning_cleanup() -> None:
    log: list[str] = []

    class Provision(Record):
        cleanup_on_abort = True

    with pytest.raises(BuildError):
        run_steps(
            Context(on_error="run-cleanup-provisioner"),
            [Record("a", log), Provision("p", log), Record("b", log, BuildError("x"))],
            StateBag(),
            MockUi(),
        )
    assert log == ["run a", "run p", "run b", "cleanup p"]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["c"], ["run a", "cleanup a"]),
        (["a"], ["run a"]),
        (["x", "a"], ["run a"]),
    ],
)
def test_ask_offers_cleanup_abort_and_retry(answers: list[str], expected: list[str]) -> None:
    log: list[str] = []
    ui = MockUi(answers)
    with pytest.raises(BuildError):
        run_steps(Context(on_error="ask"), [Record("a", log, BuildError("x"))], StateBag(), ui)
    assert log == expected
    assert "[c] Clean up and exit" in ui.questions[0]


def test_ask_retry_runs_the_step_again() -> None:
    log: list[str] = []
    attempts = iter([BuildError("first"), None])

    def flaky(state: StateBag) -> Action:
        error = next(attempts)
        if error is not None:
            raise error
        return Action.CONTINUE

    run_steps(Context(on_error="ask"), [Record("a", log, flaky)], StateBag(), MockUi(["r"]))
    assert log == ["run a", "run a", "cleanup a"]


def test_ask_without_a_terminal_cleans_up_with_a_message() -> None:
    log: list[str] = []
    ui = MockUi()  # no answers: EOFError, as when stdin is not a terminal
    with pytest.raises(BuildError):
        run_steps(Context(on_error="ask"), [Record("a", log, BuildError("x"))], StateBag(), ui)
    assert log == ["run a", "cleanup a"]
    assert any("no terminal" in e for e in ui.errors)


def test_debug_pauses_after_each_step_and_before_each_cleanup() -> None:
    ui = MockUi(["", "", "", ""])
    run_steps(Context(debug=True), [Record("a", []), Record("b", [])], StateBag(), ui)
    assert ui.questions == [
        "Pausing after run of step 'a'. Press enter to continue.",
        "Pausing before cleanup of step 'b'. Press enter to continue.",
        "Pausing before cleanup of step 'a'. Press enter to continue.",
    ]


def test_cancelling_stops_before_the_next_step_and_still_cleans_up() -> None:
    log: list[str] = []
    ctx = Context()

    def cancel(state: StateBag) -> Action:
        ctx.cancel()
        return Action.CONTINUE

    with pytest.raises(Cancelled):
        run_steps(ctx, [Record("a", log, cancel), Record("b", log)], StateBag(), MockUi())
    assert log == ["run a", "cleanup a"]


def test_sleep_returns_early_when_cancelled_from_another_thread() -> None:
    ctx = Context()
    threading.Timer(0.1, ctx.cancel).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        ctx.sleep(10)
    assert time.monotonic() - start < 2


def test_a_child_context_times_out_on_its_own_and_follows_its_parent() -> None:
    parent = Context()
    child = parent.child(timeout=0.05)
    time.sleep(0.1)
    assert child.cancelled and child.timed_out and not parent.cancelled
    other = parent.child()
    parent.cancel()
    assert other.cancelled
    assert not parent.detached().cancelled
