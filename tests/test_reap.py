"""The cleanup journal and ``kiln reap``: what a build is about to create is on disk
before it exists; a build killed with SIGKILL leaves its journal, and ``kiln reap``
removes what it lists, never touching a live run, safely twice and at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import types
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytest

from kiln.engine.reap import Reap, claim, read_journal
from kiln.plugins.manager import make_manager
from kiln.sdk import (
    BuildError,
    Context,
    Leftover,
    Reaper,
    ReaperSpec,
    TempFolder,
    hookimpl,
    journaled_file,
)
from kiln.sdk.journal import Journal
from kiln.ui.terminal import Output
from tests.conftest import KILN, run_kiln
from tests.sshd import SSHServer

TEMPLATE = """
source "null" "x" { communicator = "none" }
build {
  sources = ["null.x"]
  provisioner "shell-local" { inline = ["echo started; sleep ${var.sleep}"] }
}
variable "sleep" { default = "0" }
"""


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("KILN_STATE_DIR", str(folder))
    return folder / "journals"


@pytest.fixture
def template(tmp_path: Path) -> Path:
    folder = tmp_path / "template"
    folder.mkdir()
    (folder / "build.pkr.hcl").write_text(TEMPLATE)
    return folder


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def start_build(template: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*KILN, "build", *args, str(template)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_output(proc: subprocess.Popen[str], text: str) -> str:
    seen = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared; output:\n{seen}")


def killed_build(template: Path, *args: str) -> None:
    """Start ``kiln build ARGS... TEMPLATE``, wait until a provisioner says "started",
    then SIGKILL it: the run leaves its journal."""
    proc = start_build(template, *args)
    wait_for_output(proc, "started")
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def temp_folders(journal: Path) -> list[str]:
    return [str(r.details["path"]) for r in read_journal(journal).leftovers]


# -- the journal ----------------------------------------------------------------------


def test_records_are_on_disk_before_the_call_returns(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "run-1", paths=["/plugins/a"])
    entry = journal.record("docker", "container", "docker.app", name="kiln-1")
    written = lines(tmp_path / "run-1.jsonl")
    assert written[0]["op"] == "open" and written[0]["pid"] == os.getpid()
    assert written[0]["paths"] == ["/plugins/a"]
    assert written[1] == {**written[1], "op": "record", "reaper": "docker", "kind": "container"}
    assert written[1]["details"] == {"name": "kiln-1"}
    entry.update(id="c0ffee")
    assert lines(tmp_path / "run-1.jsonl")[-1] == {
        "op": "update",
        "n": 1,
        "details": {"id": "c0ffee"},
    }
    # a live run holds its journal: no reap can take it
    assert claim(tmp_path / "run-1.jsonl") is None
    entry.gone()
    entry.gone()  # again: harmless, written once
    assert [line["op"] for line in lines(tmp_path / "run-1.jsonl")].count("gone") == 1
    journal.close()
    assert not (tmp_path / "run-1.jsonl").exists(), "nothing outstanding: the journal goes"


def test_a_run_that_leaves_something_leaves_its_journal_closed_and_unlocked(
    tmp_path: Path,
) -> None:
    journal = Journal.create(tmp_path, "run-2")
    journal.record("kiln", "local-folder", "null.x", path="/tmp/x").gone()
    kept = journal.record("docker", "image", "docker.app", id="sha256:1")
    left = journal.record("docker", "container", "docker.app", name="kiln-2")
    kept.keep()
    journal.close()
    assert [line["op"] for line in lines(tmp_path / "run-2.jsonl")][-1] == "close"
    taken = claim(tmp_path / "run-2.jsonl")
    assert taken is not None
    assert [(x.kind, x.details) for x in taken.journal.leftovers] == [
        ("container", {"name": "kiln-2"})
    ]
    assert taken.journal.leftovers[0].n == left.n
    taken.release()


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "run-3")
    journal.record("kiln", "local-folder", "null.x", path="/tmp/y")
    journal.close()
    with (tmp_path / "run-3.jsonl").open("a") as f:
        f.write('{"op":"gone","n"')  # the power went
    assert [x.details["path"] for x in read_journal(tmp_path / "run-3.jsonl").leftovers] == [
        "/tmp/y"
    ]


def test_a_reap_after_a_torn_last_line_clears_the_journal(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "run-torn")
    journal.record("kiln", "local-folder", "null.x", path="/tmp/z")
    journal.close()
    path = tmp_path / "run-torn.jsonl"
    with path.open("a") as f:
        f.write('{"op":"gone","n"')  # the power went mid-line
    taken = claim(path)
    assert taken is not None
    (leftover,) = taken.journal.leftovers
    taken.settle(leftover)
    # the reap's line is not lost with the torn one
    assert read_journal(path).leftovers == []
    taken.release()
    assert not path.exists()


def test_a_temp_folder_is_recorded_before_it_exists_and_gone_after(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path / "j", "run-4")
    ctx = Context(build_name="x", builder_type="null", journal=journal)
    with TempFolder(ctx, "kiln-test-", parent=str(tmp_path)) as path:
        assert os.path.isdir(path) and (os.stat(path).st_mode & 0o777) == 0o700
        record = lines(tmp_path / "j" / "run-4.jsonl")[1]
        assert record["details"] == {"path": path} and record["build"] == "null.x"
    assert not os.path.exists(path)
    assert journal.outstanding == []
    journal.close()


def test_a_journaled_file_is_recorded_while_it_is_partial(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path / "j", "run-5")
    ctx = Context(build_name="x", builder_type="docker", journal=journal)
    target = tmp_path / "out" / "image.tar"
    with journaled_file(ctx, str(target)) as f:
        f.write(b"half")
        (partial,) = journal.outstanding
        assert (partial.reaper, partial.kind) == ("kiln", "local-file")
        assert os.path.exists(partial.details["path"]) and not target.exists()
    assert target.read_bytes() == b"half"
    assert journal.outstanding == []
    with pytest.raises(OSError), journaled_file(ctx, str(target)) as f:
        f.write(b"other")
        raise OSError("the export failed")
    assert target.read_bytes() == b"half"  # untouched, and no partial file left
    assert sorted(os.listdir(target.parent)) == ["image.tar"]
    assert journal.outstanding == []
    journal.close()


# -- kiln build and kiln reap, as processes ----------------------------------------------


def test_a_finished_build_leaves_no_journal(state: Path, template: Path) -> None:
    result = run_kiln("build", str(template))
    assert result.returncode == 0, result.stderr
    assert list(state.glob("*")) == []


def test_sigkill_then_reap_removes_what_the_build_made(state: Path, template: Path) -> None:
    proc = start_build(template, "-var", "sleep=60")
    wait_for_output(proc, "started")
    (journal,) = state.glob("*.jsonl")
    (folder,) = temp_folders(journal)
    assert os.path.isdir(folder)

    # while the build runs, reap leaves it alone
    live = run_kiln("reap")
    assert live.returncode == 0, live.stderr
    assert "Left alone: 1 run(s)" in live.stdout and os.path.isdir(folder)

    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.isdir(folder), "a killed build cannot clean up: the folder stays"

    dry = run_kiln("reap", "-dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"null.x: would remove local-folder {folder}" in dry.stdout
    assert os.path.isdir(folder) and journal.exists()

    reaped = run_kiln("reap")
    assert reaped.returncode == 0, reaped.stderr
    assert f"null.x: removed local-folder {folder}" in reaped.stdout
    assert "Reaped: removed 1, could not remove 0." in reaped.stdout
    assert not os.path.exists(folder)
    assert not journal.exists(), "everything removed: the journal goes too"

    again = run_kiln("reap")
    assert again.returncode == 0 and "Nothing left behind" in again.stdout


def test_two_reaps_at_once_remove_each_thing_once(state: Path, template: Path) -> None:
    folders = []
    for _ in range(3):
        killed_build(template, "-var", "sleep=60")
    for journal in state.glob("*.jsonl"):
        folders += temp_folders(journal)
    assert len(folders) == 3
    reaps = [subprocess.Popen([*KILN, "reap"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [r.communicate(timeout=60)[0] for r in reaps]
    assert [r.returncode for r in reaps] == [0, 0]
    removed = [
        line for out in outputs for line in out.splitlines() if "removed local-folder" in line
    ]
    assert sorted(line.rsplit(" ", 1)[1] for line in removed) == sorted(folders)
    assert not any(os.path.exists(f) for f in folders)
    assert list(state.glob("*.jsonl")) == []


def test_older_than_leaves_recent_runs(state: Path, template: Path) -> None:
    killed_build(template, "-var", "sleep=60")
    (journal,) = state.glob("*.jsonl")
    (folder,) = temp_folders(journal)
    young = run_kiln("reap", "-older-than", "1h")
    assert young.returncode == 0 and "Left alone: 1 run(s)" in young.stdout
    assert os.path.isdir(folder)
    assert run_kiln("reap", "-older-than=0s").returncode == 0
    assert not os.path.exists(folder)


def test_bad_flags_name_the_option() -> None:
    result = run_kiln("reap", "-older-than", "soon")
    assert result.returncode == 1
    assert 'Error: -older-than: time: invalid duration "soon"' in result.stderr
    assert "Traceback" not in result.stderr
    result = run_kiln("reap", "extra")
    assert result.returncode == 1 and "takes no arguments" in result.stderr


def test_build_timeout_cancels_and_cleans_up(state: Path, template: Path) -> None:
    proc = subprocess.run(
        [*KILN, "build", "-timeout=1s", "-var", "sleep=60", str(template)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 1
    assert "-timeout=1s ran out" in proc.stderr
    assert list(state.glob("*")) == [], "cleaned up: nothing for kiln reap"
    for bad in ("0s", "forever"):
        result = run_kiln("build", f"-timeout={bad}", str(template))
        assert result.returncode == 1 and "Error: -timeout" in result.stderr


def test_a_journal_that_cannot_be_written_stops_the_build(tmp_path: Path, template: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = run_kiln("build", str(template), env={"KILN_STATE_DIR": str(blocked)})
    assert result.returncode == 1
    assert "kiln cannot write its cleanup journal in" in result.stderr
    assert "KILN_STATE_DIR" in result.stderr and "Traceback" not in result.stderr


# -- reapers: failures, unknown ones, sweeps (in-process, with a test plugin) -----------


class FlakyReaper(Reaper):
    """Removes ``thing`` records once allowed; sweeps up ``tagged`` ones."""

    allowed = False
    removed: ClassVar[list[Leftover]] = []
    tagged: ClassVar[list[Leftover]] = []

    def remove(self, leftover: Leftover) -> None:
        if not FlakyReaper.allowed:
            raise BuildError("the engine is away")
        FlakyReaper.removed.append(leftover)

    def sweep(self, live: set[str], older_than: float) -> Iterable[Leftover]:
        return [t for t in FlakyReaper.tagged if t.run not in live]


@hookimpl
def kiln_reapers() -> Iterable[ReaperSpec]:
    return [ReaperSpec("flaky", FlakyReaper)]


def reap(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Reap, str]:
    plugin = types.ModuleType("flaky_plugin")
    plugin.kiln_reapers = kiln_reapers  # type: ignore[attr-defined]
    pm = make_manager(modules=[plugin])
    job = Reap(folder, lambda paths: pm, Output(color=False).for_build("reap"), Context())
    job.run()
    captured = capsys.readouterr()
    return job, captured.out + captured.err


def test_what_cannot_be_removed_stays_for_the_next_reap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    FlakyReaper.allowed, FlakyReaper.removed, FlakyReaper.tagged = False, [], []
    journal = Journal.create(tmp_path, "run-5")
    journal.record("flaky", "thing", "b.x", id="t-1")
    journal.record("missing", "widget", "b.x", id="w-1")
    journal.close()

    first, out = reap(tmp_path, capsys)
    assert len(first.report.failed) == 2
    assert "b.x: could not remove thing t-1: the engine is away" in out
    assert 'could not remove widget w-1: no installed plugin removes "missing"' in out
    assert len(read_journal(tmp_path / "run-5.jsonl").leftovers) == 2

    FlakyReaper.allowed = True
    second, out = reap(tmp_path, capsys)
    assert [x.details["id"] for x in second.report.removed] == ["t-1"]
    assert [x.details["id"] for x in read_journal(tmp_path / "run-5.jsonl").leftovers] == ["w-1"]


def test_a_sweep_never_takes_a_live_runs_resources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    FlakyReaper.allowed, FlakyReaper.removed = True, []
    live = Journal.create(tmp_path, "live-run")  # held by this process: live
    FlakyReaper.tagged = [
        Leftover("live-run", "b.x", "flaky", "thing", {"id": "t-live"}),
        Leftover("lost-run", "b.x", "flaky", "thing", {"id": "t-lost"}),
    ]
    _, out = reap(tmp_path, capsys)
    assert [x.details["id"] for x in FlakyReaper.removed] == ["t-lost"]
    assert "Found 1 resource of runs with no journal" in out
    live.close()


def test_reap_is_a_listed_command() -> None:
    assert "reap" in run_kiln("--help").stdout
    assert run_kiln("reap", "-h").stdout.startswith("Usage: kiln reap")


# -- files on a machine that outlives the build (null builder over SSH) ----------------


def ssh_template(
    folder: Path, sshd: SSHServer, remote: Path, inline: str, skip_clean: bool = False
) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "build.pkr.hcl").write_text(
        sshd.null_source("box")
        + f"""
build {{
  sources = ["null.box"]
  provisioner "shell" {{
    remote_folder    = "{remote}"
    use_env_var_file = true
    environment_vars = ["GREETING=hello"]
    inline           = ["{inline}"]
    skip_clean       = {str(skip_clean).lower()}
  }}
}}
"""
    )
    return folder


def test_sigkill_then_reap_removes_the_scripts_left_on_the_machine(
    state: Path, tmp_path: Path, sshd: SSHServer
) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    template = ssh_template(tmp_path / "t", sshd, remote, "echo started; sleep 60")
    killed_build(template)
    left = sorted(p.name for p in remote.iterdir())
    assert [n.split("_")[0] for n in left] == ["script", "varfile"]

    reaped = run_kiln("reap")
    assert reaped.returncode == 0, reaped.stdout + reaped.stderr
    assert "null.box: removed remote-file" in reaped.stdout
    assert list(remote.iterdir()) == []
    assert list(state.glob("*.jsonl")) == []


@pytest.mark.parametrize(("on_error", "kept"), [("cleanup", False), ("abort", True)])
def test_a_failed_script_is_removed_unless_the_build_is_kept_for_a_look(
    state: Path, tmp_path: Path, sshd: SSHServer, on_error: str, kept: bool
) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    template = ssh_template(tmp_path / "t", sshd, remote, "exit 3")
    result = run_kiln("build", f"-on-error={on_error}", str(template))
    assert result.returncode == 1
    assert bool(list(remote.iterdir())) == kept
    if kept:
        assert "'kiln reap' removes them" in result.stderr
        assert run_kiln("reap").returncode == 0
        assert list(remote.iterdir()) == []
    assert list(state.glob("*.jsonl")) == []


def test_a_failed_skip_clean_script_stays_and_is_no_leftover(
    state: Path, tmp_path: Path, sshd: SSHServer
) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    template = ssh_template(tmp_path / "t", sshd, remote, "exit 3", skip_clean=True)
    result = run_kiln("build", str(template))
    assert result.returncode == 1
    assert len(list(remote.iterdir())) == 2, "skip_clean: the script and variable file stay"
    assert "kiln reap" not in result.stderr
    assert list(state.glob("*.jsonl")) == [], "kept as asked: nothing for kiln reap"


def test_temp_folders_go_where_kiln_tmp_dir_or_packer_tmp_dir_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = Context()
    for name in ("PACKER_TMP_DIR", "KILN_TMP_DIR"):  # KILN_TMP_DIR wins, set last
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
        with TempFolder(ctx, "kiln-test-") as path:
            assert os.path.dirname(path) == str(folder)
