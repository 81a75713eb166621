"""The docker communicator against a real container: commands through docker exec,
files and folders as tar streams through docker cp."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path

import pytest
from tests.dockerd import DockerEngine

from kiln.sdk import CommunicatorError, Context, RemoteCmd
from kiln.sdk.context import Cancelled
from kiln.testing import run_command
from kiln_plugin_docker.communicator import DockerCommunicator
from kiln_plugin_docker.driver import Driver


def run(comm: DockerCommunicator, command: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    status, out, err = run_command(comm, command, stdin)
    return status, out.decode(), err.decode()


def in_container(engine: DockerEngine, container: str, command: str) -> str:
    return engine.docker("exec", container, "/bin/sh", "-c", command).stdout


# -- commands -------------------------------------------------------------------------------


def test_exit_status_and_both_outputs(comm: DockerCommunicator) -> None:
    assert run(comm, "echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")
    assert run(comm, "true") == (0, "", "")


def test_error_output_that_looks_like_the_pid_line_passes_through(
    comm: DockerCommunicator,
) -> None:
    status, _, err = run(comm, "echo 'kiln-exec-pid 12' >&2; printf 'no newline' >&2")
    assert (status, err) == (0, "kiln-exec-pid 12\nno newline")


def test_quoting_survives(comm: DockerCommunicator) -> None:
    command = """printf '%s|' "a b" 'c"d' "e'f" $((1+2)) && echo"""
    assert run(comm, command) == (0, "a b|c\"d|e'f|3|\n", "")


def test_input_is_fed(comm: DockerCommunicator) -> None:
    assert run(comm, "wc -c", stdin=b"x" * 100_000)[1].strip() == "100000"


def test_exec_user_and_env(engine_env: DockerEngine, container: str) -> None:
    comm = DockerCommunicator(Driver(), container, user="nobody", env={"GREETING": "hi there"})
    assert run(comm, 'id -u; echo "$GREETING"') == (0, "65534\nhi there\n", "")


def test_env_values_stay_off_the_command_line(
    engine_env: DockerEngine, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    driver = Driver()
    real_call = driver.call

    def spy(*args: str, **kwargs: object) -> int:
        seen.append(list(args))
        return real_call(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(driver, "call", spy)
    comm = DockerCommunicator(driver, container, env={"TOKEN": "s3cr3t-value"})
    assert run(comm, 'echo "$TOKEN"')[1] == "s3cr3t-value\n"
    assert seen and not any("s3cr3t-value" in arg for args in seen for arg in args)


def test_a_removed_container_is_a_communicator_error(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str
) -> None:
    engine_env.docker("rm", "-f", container)
    with pytest.raises(CommunicatorError, match="cannot run a command in container"):
        run(comm, "true")


def test_cancelling_kills_the_command_in_the_container(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str
) -> None:
    ctx = Context()
    threading.Timer(0.5, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        comm.start(RemoteCmd("sleep 300 & sleep 301; echo never"), ctx)
    assert time.monotonic() - started < 10
    # the command, and what it started in the background, are gone
    left = in_container(engine_env, container, "ps -o args | grep 'sleep 30[01]' || true")
    assert left == ""


# -- uploads --------------------------------------------------------------------------------


def test_upload_a_stream_into_missing_folders(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str
) -> None:
    comm.upload("/opt/new/deep/file.txt", io.BytesIO(b"hello\n"), mode=0o640)
    listing = in_container(engine_env, container, "stat -c '%a %u %s' /opt/new/deep/file.txt")
    assert listing.split() == ["640", "0", "6"]
    assert in_container(engine_env, container, "cat /opt/new/deep/file.txt") == "hello\n"


def test_upload_of_unknown_size_is_spooled(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str
) -> None:
    class Pipe(io.RawIOBase):
        """A stream that cannot say its size (tell and seek fail)."""

        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            chunk = self.data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = os.urandom(300_000)
    comm.upload("/tmp/piped", Pipe(data))  # type: ignore[arg-type]
    digest = in_container(engine_env, container, "sha256sum /tmp/piped").split()[0]
    assert digest == hashlib.sha256(data).hexdigest()


def test_upload_of_a_file_from_its_current_position(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = tmp_path / "big"
    path.write_bytes(data)
    with open(path, "rb") as f:
        f.seek(7)
        comm.upload("/tmp/big", f)
    digest = in_container(engine_env, container, "sha256sum /tmp/big").split()[0]
    assert digest == hashlib.sha256(data[7:]).hexdigest()


def test_relative_destination_is_under_the_root(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str
) -> None:
    comm.upload("srv/relative.txt", io.BytesIO(b"r"))
    assert in_container(engine_env, container, "cat /srv/relative.txt") == "r"


def test_upload_owner_is_the_user_and_nothing_else_changes_owner(
    engine_env: DockerEngine, container: str, tmp_path: Path
) -> None:
    in_container(engine_env, container, "mkdir -p /srv/shared && touch /srv/shared/root-file")
    comm = DockerCommunicator(Driver(), container, user="nobody", owner="nobody")
    comm.upload("/srv/shared/mine", io.BytesIO(b"m"))
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "sub" / "page.html").write_text("<p>")
    comm.upload_dir("/srv/shared/", str(site))
    owners = in_container(
        engine_env,
        container,
        "stat -c '%n %u' /srv/shared /srv/shared/root-file /srv/shared/mine "
        "/srv/shared/site /srv/shared/site/sub/page.html",
    ).splitlines()
    assert owners == [
        "/srv/shared 0",
        "/srv/shared/root-file 0",
        "/srv/shared/mine 65534",
        "/srv/shared/site 65534",
        "/srv/shared/site/sub/page.html 65534",
    ]
    # the user can change what it was given
    assert run(comm, "echo more >> /srv/shared/site/sub/page.html")[0] == 0


def test_an_unknown_owner_is_a_clear_error(engine_env: DockerEngine, container: str) -> None:
    comm = DockerCommunicator(Driver(), container, owner="nosuchuser")
    with pytest.raises(CommunicatorError, match="nosuchuser"):
        comm.upload("/tmp/x", io.BytesIO(b"x"))


def test_upload_dir_trailing_slash_rule_and_excludes(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("index")
    (site / "css" / "main.css").write_text("css")
    (site / "secret.key").write_text("key")
    os.symlink("index.html", site / "home.html")
    comm.upload_dir("/srv/a", str(site))
    comm.upload_dir("/srv/b", str(site) + "/", exclude=["*.key"])
    found = in_container(
        engine_env, container, "cd /srv && find a b | sort && readlink b/home.html"
    ).split()
    assert found == [
        "a",
        "a/site",
        "a/site/css",
        "a/site/css/main.css",
        "a/site/home.html",
        "a/site/index.html",
        "a/site/secret.key",
        "b",
        "b/css",
        "b/css/main.css",
        "b/home.html",
        "b/index.html",
        "index.html",
    ]


def test_upload_dir_of_a_file_is_refused(comm: DockerCommunicator, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(CommunicatorError, match="not a folder"):
        comm.upload_dir("/tmp", str(tmp_path / "f"))


def test_upload_read_failure_is_reported(comm: DockerCommunicator) -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        comm.upload("/tmp/broken", Broken(b"abc"))


def test_cancelled_upload_stops(comm: DockerCommunicator, tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(os.urandom(64 * 1024 * 1024))
    ctx = Context()
    ctx.cancel()
    with pytest.raises(Cancelled), open(path, "rb") as f:
        comm.upload("/tmp/cancelled", f, ctx=ctx)


# -- downloads ------------------------------------------------------------------------------


def test_download_a_file(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str
) -> None:
    in_container(engine_env, container, "head -c 2000000 /dev/urandom > /tmp/blob")
    expected = in_container(engine_env, container, "sha256sum /tmp/blob").split()[0]
    out = io.BytesIO()
    comm.download("/tmp/blob", out)
    assert hashlib.sha256(out.getvalue()).hexdigest() == expected


def test_download_errors(comm: DockerCommunicator) -> None:
    with pytest.raises(CommunicatorError, match="/nowhere"):
        comm.download("/nowhere", io.BytesIO())
    with pytest.raises(CommunicatorError, match="not a file"):
        comm.download("/etc", io.BytesIO())


def test_download_dir_trailing_slash_rule(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str, tmp_path: Path
) -> None:
    in_container(
        engine_env,
        container,
        "mkdir -p /data/logs && echo a > /data/a.txt && echo l > /data/logs/l.log "
        "&& echo s > /data/skip.tmp",
    )
    comm.download_dir("/data", str(tmp_path / "whole"))
    comm.download_dir("/data/", str(tmp_path / "contents"), exclude=["*.tmp"])
    whole = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "whole").rglob("*"))
    contents = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "contents").rglob("*"))
    assert whole == [
        "whole/data",
        "whole/data/a.txt",
        "whole/data/logs",
        "whole/data/logs/l.log",
        "whole/data/skip.tmp",
    ]
    assert contents == ["contents/a.txt", "contents/logs", "contents/logs/l.log"]
    assert (tmp_path / "contents" / "logs" / "l.log").read_text() == "l\n"


def test_download_dir_of_a_pattern_is_refused(comm: DockerCommunicator, tmp_path: Path) -> None:
    with pytest.raises(CommunicatorError, match="not patterns"):
        comm.download_dir("/etc/*.conf", str(tmp_path))


def test_a_whole_file_on_disk_lands_the_same_however_it_moves(
    engine_env: DockerEngine, comm: DockerCommunicator, container: str, tmp_path: Path
) -> None:
    # docker cp reads a whole file of root's itself; into a missing folder, or from a
    # position, the tar stream goes: the result is the same
    path = tmp_path / "tool.sh"
    path.write_bytes(b"#!/bin/sh\necho tool\n")
    path.chmod(0o750)
    in_container(engine_env, container, "mkdir -p /opt/bin")
    for dst in ("/opt/bin/tool.sh", "/opt/missing/folder/tool.sh"):
        with open(path, "rb") as f:
            comm.upload(dst, f, mode=0o750)
        shown = in_container(engine_env, container, f"stat -c '%a %u %g' {dst} && {dst}")
        assert shown.split() == ["750", "0", "0", "tool"]
