"""Many writers, one manifest: parallel builds, parallel kiln processes and threads lose
no entry, and a writer killed mid-write leaves the previous manifest intact."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from manifest_helpers import Runner, kiln_command, kiln_env, names, ok, read

from kiln_plugin_manifest.manifest_file import add_build, lock_path

WRITER = Path(__file__).with_name("manifest_writer.py")
EIGHT = tuple("abcdefgh")


def null_template(sources: tuple[str, ...], output: str = "packer-manifest.json") -> str:
    blocks = "".join(f'source "null" "{s}" {{\n  communicator = "none"\n}}\n' for s in sources)
    refs = ", ".join(f'"source.null.{s}"' for s in sources)
    return (
        f'{blocks}build {{\n  sources = [{refs}]\n  post-processor "manifest" {{\n'
        f'    output = "{output}"\n  }}\n}}\n'
    )


def test_eight_parallel_builds_of_one_run_all_get_their_entry(
    write: Callable[..., Path], kiln_build: Runner
) -> None:
    folder = write(**{"build.pkr.hcl": null_template(EIGHT)})
    ok(kiln_build("."))
    ok(kiln_build("-force", "."))  # same run UUID for all eight: -force keeps them all
    manifest = read(folder / "packer-manifest.json")
    assert sorted(names(manifest)) == list(EIGHT)
    assert {b["packer_run_uuid"] for b in manifest["builds"]} == {manifest["last_run_uuid"]}


def test_eight_kiln_processes_writing_one_manifest_lose_nothing(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    shared = tmp_path / "shared" / "manifest.json"
    folder = write(**{"build.pkr.hcl": null_template(("only",), str(shared))})
    procs = [
        subprocess.Popen(
            kiln_command("."),
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=kiln_env(tmp_path),
        )
        for _ in range(8)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    manifest = read(shared)
    assert names(manifest) == ["only"] * 8
    assert len({b["packer_run_uuid"] for b in manifest["builds"]}) == 8
    assert manifest["last_run_uuid"] == manifest["builds"][-1]["packer_run_uuid"]


def test_threads_adding_builds_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "manifest.json")
    errors: list[BaseException] = []

    def add(thread: int) -> None:
        try:
            for i in range(20):
                add_build(path, {"name": f"{thread}-{i}"}, run_uuid="run")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    recorded = names(read(Path(path)))
    assert sorted(recorded) == sorted(f"{t}-{i}" for t in range(8) for i in range(20))
    for t in range(8):  # each thread's entries in the order it added them
        mine = [n for n in recorded if n.startswith(f"{t}-")]
        assert mine == [f"{t}-{i}" for i in range(20)]


def previous_manifest(path: Path) -> str:
    add_build(str(path), {"name": "old", "builder_type": "null"}, run_uuid="old-run")
    return path.read_text(encoding="utf-8")


def start_writer(path: Path, size: int, *flags: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(size), *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "writing\n"
    return proc


def parts(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.*.part"))


def test_a_writer_killed_before_its_rename_leaves_the_previous_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    old = previous_manifest(path)
    proc = start_writer(path, 1_000_000, "--pause-before-rename")
    assert proc.stdout is not None
    assert proc.stdout.readline() == "renaming\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    assert path.read_text(encoding="utf-8") == old
    [part] = parts(path)  # the whole new manifest was on disk, never renamed
    assert names(json.loads(part.read_text(encoding="utf-8"))) == ["old", "big"]

    # the kernel dropped the dead writer's lock: the next writer goes ahead at once, and
    # clears the leftover
    start = time.monotonic()
    add_build(str(path), {"name": "next"}, run_uuid="next-run")
    assert time.monotonic() - start < 5
    assert names(read(path)) == ["old", "next"]
    assert parts(path) == []
    assert Path(lock_path(str(path))).exists()


def wait_for_part(path: Path, proc: subprocess.Popen[str]) -> bool:
    """Whether the writer started its temporary file (False: it finished first)."""
    while proc.poll() is None:
        if parts(path):
            return True
    return False


def test_a_writer_killed_at_a_random_point_leaves_a_whole_manifest(tmp_path: Path) -> None:
    """Kills at a random moment of the whole call, and at a random moment once the new
    file is being written: every time, the manifest is the old one or the new one."""
    path = tmp_path / "manifest.json"
    old = previous_manifest(path)
    size = 30_000_000
    start = time.monotonic()
    start_writer(path, size).communicate(timeout=60)
    took = time.monotonic() - start
    new = json.loads(path.read_text(encoding="utf-8"))
    assert names(new) == ["old", "big"]

    rng = random.Random(8)
    left_parts = 0
    for n in range(12):
        path.write_text(old, encoding="utf-8")
        proc = start_writer(path, size)
        if n % 2 and wait_for_part(path, proc):
            time.sleep(rng.uniform(0, 0.03))
        else:
            time.sleep(rng.uniform(0, took))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        text = path.read_text(encoding="utf-8")
        assert text == old or json.loads(text) == new, f"round {n}: a half-written manifest"
        left_parts += bool(parts(path))
    assert left_parts, "no kill landed while the new file was being written"


@pytest.mark.parametrize("cancel", [False, True], ids=["waits", "gives-up"])
def test_a_writer_waits_for_the_lock_and_can_give_up(tmp_path: Path, cancel: bool) -> None:
    from filelock import FileLock

    path = tmp_path / "manifest.json"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with FileLock(lock_path(str(path))):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    waited: list[float] = []

    class GiveUp(Exception):
        pass

    def waiting(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == 3:
            if cancel:
                raise GiveUp
            release.set()

    try:
        if cancel:
            with pytest.raises(GiveUp):
                add_build(str(path), {"name": "late"}, run_uuid="run", waiting=waiting)
            assert not path.exists()
        else:
            add_build(str(path), {"name": "late"}, run_uuid="run", waiting=waiting)
            assert names(read(path)) == ["late"]
    finally:
        release.set()
        holder.join()
    assert len(waited) == 3 and waited == sorted(waited)
