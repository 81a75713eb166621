"""The communicators against a real OpenSSH sshd on loopback (see tests/sshd.py), the
local communicator, temporary keys, the connection steps and the options' checks."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.communicator.keys import generate_key_pair
from kiln.communicator.local import LocalCommunicator
from kiln.communicator.ssh import SSHCommunicator
from kiln.communicator.sshconnect import load_private_key
from kiln.sdk import (
    DISCONNECTED,
    Action,
    BuildError,
    Cancelled,
    CommunicatorConfig,
    CommunicatorError,
    ConfigError,
    Context,
    Duration,
    Progress,
    RemoteCmd,
    StateBag,
    StepCleanupTempKeys,
    StepConnect,
    StepTemporaryKeyPair,
)
from kiln.testing import run_command
from kiln.testing.mocks import MockCommunicator, MockUi
from tests.sshd import SSHServer, free_port, running_sshd


def make_config(server: SSHServer, **options: Any) -> CommunicatorConfig:
    values: dict[str, Any] = {
        "ssh_host": server.host,
        "ssh_port": server.port,
        "ssh_username": server.user,
        "ssh_private_key_file": server.private_key_file,
        "ssh_timeout": Duration(5),
    }
    values.update(options)
    return CommunicatorConfig(**values)


def connected(server: SSHServer, **options: Any) -> SSHCommunicator:
    comm = SSHCommunicator(make_config(server, **options))
    comm.connect()
    return comm


@pytest.fixture(scope="module")
def comm(sshd: SSHServer) -> Iterator[SSHCommunicator]:
    comm = connected(sshd)
    yield comm
    comm.close()


# -- commands ---------------------------------------------------------------------------


def test_exit_status_and_separate_streams(comm: SSHCommunicator) -> None:
    assert run_command(comm, "echo out; echo err >&2; exit 3") == (3, b"out\n", b"err\n")
    assert run_command(comm, "true")[0] == 0


def test_output_is_streamed_while_the_command_runs(comm: SSHCommunicator) -> None:
    start = time.monotonic()
    arrivals: list[tuple[float, bytes]] = []
    comm.start(
        RemoteCmd(
            "echo first; sleep 0.4; echo second",
            stdout=lambda d: arrivals.append((time.monotonic() - start, d)),
        )
    )
    assert b"".join(d for _, d in arrivals) == b"first\nsecond\n"
    assert arrivals[0][1] == b"first\n" and arrivals[0][0] < 0.3


def test_stdin_reaches_the_command(comm: SSHCommunicator) -> None:
    data = os.urandom(1 << 20)
    status, out, _ = run_command(comm, "sha256sum", stdin=data)
    assert status == 0 and out.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert run_command(comm, "cat")[1] == b""  # no stdin: the command reads an empty input


def test_pty(sshd: SSHServer, comm: SSHCommunicator) -> None:
    assert run_command(comm, "test -t 1")[0] == 1
    with_pty = connected(sshd, ssh_pty=True)
    try:
        status, out, err = run_command(with_pty, "test -t 1 && echo tty; echo err >&2")
        assert status == 0
        assert b"tty" in out and b"err" in out and err == b""  # a pty merges the streams
    finally:
        with_pty.close()


def test_cancel_stops_a_long_command(sshd: SSHServer, comm: SSHCommunicator) -> None:
    ctx = Context()
    threading.Timer(0.3, ctx.cancel).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        comm.start(RemoteCmd("sleep 10"), ctx)
    assert time.monotonic() - start < 2
    assert run_command(comm, "echo still usable")[1] == b"still usable\n"


def test_cancel_ends_the_remote_command_with_a_pty(sshd: SSHServer) -> None:
    # sshd does not signal a root login's commands, but closing a pty hangs them up
    comm = connected(sshd, ssh_pty=True)
    ctx = Context()
    threading.Timer(0.3, ctx.cancel).start()
    try:
        with pytest.raises(Cancelled):
            comm.start(RemoteCmd("sleep 31.25"), ctx)
    finally:
        comm.close()
    time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", "sleep 31.25"], capture_output=True)
    assert left.returncode == 1, "the remote command was not stopped"


def test_dropped_connection_is_reported_then_reconnected(sshd: SSHServer) -> None:
    comm = connected(sshd)
    try:
        # kill the sshd process serving this connection: the machine "rebooted"
        assert run_command(comm, "kill $PPID; sleep 5")[0] == DISCONNECTED
        assert run_command(comm, "echo back")[1] == b"back\n"
    finally:
        comm.close()


def test_read_write_timeout_detects_a_hung_connection(sshd: SSHServer) -> None:
    comm = connected(
        sshd, ssh_keep_alive_interval=Duration(0.2), ssh_read_write_timeout=Duration(0.5)
    )
    pids: list[bytes] = []
    start = time.monotonic()
    try:
        # freeze the sshd process serving this connection (once it sent the pid on)
        command = "echo $PPID; sleep 0.2; kill -STOP $PPID"
        status = comm.start(RemoteCmd(command, stdout=pids.append))
    finally:
        for pid in b"".join(pids).split():
            os.kill(int(pid), signal.SIGCONT)
        comm.close()
    assert pids and status == DISCONNECTED
    assert time.monotonic() - start < 2.5


# -- files ------------------------------------------------------------------------------


def test_upload_and_download_a_file(comm: SSHCommunicator, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    remote = str(tmp_path / "remote.bin")
    comm.upload(remote, io.BytesIO(data), mode=0o750)
    assert Path(remote).read_bytes() == data
    assert stat.S_IMODE(os.stat(remote).st_mode) == 0o750
    back = io.BytesIO()
    comm.download(remote, back)
    assert back.getvalue() == data


def test_upload_defaults_and_edge_cases(comm: SSHCommunicator, tmp_path: Path) -> None:
    remote = tmp_path / "empty"
    comm.upload(str(remote), io.BytesIO(b""))
    assert remote.read_bytes() == b""
    assert stat.S_IMODE(remote.stat().st_mode) == 0o644
    # an existing file is replaced, and a stream that cannot say its size works
    read, write = os.pipe()
    os.write(write, b"from a pipe")
    os.close(write)
    with os.fdopen(read, "rb", buffering=0) as pipe:
        comm.upload(str(remote), pipe)  # type: ignore[arg-type]
    assert remote.read_bytes() == b"from a pipe"


def test_file_errors_say_what_went_wrong(comm: SSHCommunicator, tmp_path: Path) -> None:
    with pytest.raises(CommunicatorError, match=r"cannot download .*missing: No such file"):
        comm.download(str(tmp_path / "missing"), io.BytesIO())
    with pytest.raises(CommunicatorError, match=r"cannot upload to .*nodir/x: No such file"):
        comm.upload(str(tmp_path / "nodir" / "x"), io.BytesIO(b"x"))
    with pytest.raises(CommunicatorError, match="it is a folder, not a file"):
        comm.download(str(tmp_path), io.BytesIO())
    assert run_command(comm, "true")[0] == 0  # the connection survives


def test_scp_transfer_method(sshd: SSHServer, tmp_path: Path) -> None:
    comm = connected(sshd, ssh_file_transfer_method="scp")
    try:
        data = os.urandom(700_000)
        comm.upload(str(tmp_path / "f"), io.BytesIO(data), mode=0o600)
        assert (tmp_path / "f").read_bytes() == data
        assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600
        back = io.BytesIO()
        comm.download(str(tmp_path / "f"), back)
        assert back.getvalue() == data
        with pytest.raises(CommunicatorError, match="No such file"):
            comm.download(str(tmp_path / "missing"), io.BytesIO())
    finally:
        comm.close()


class RecordingUi(MockUi):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[str, int | None, list[int]]] = []

    def progress(self, label: str, total: int | None) -> Progress:
        steps: list[int] = []
        self.bars.append((label, total, steps))

        class Bar(Progress):
            def advance(self, amount: int) -> None:
                steps.append(amount)

        return Bar()


def test_transfers_report_progress(sshd: SSHServer, tmp_path: Path) -> None:
    ui = RecordingUi()
    comm = SSHCommunicator(make_config(sshd), ui=ui)
    comm.connect()
    try:
        comm.upload(str(tmp_path / "script.sh"), io.BytesIO(b"echo small"))  # no bar
        comm.upload(str(tmp_path / "p"), io.BytesIO(b"x" * 1_600_000))
        comm.download(str(tmp_path / "p"), io.BytesIO())
    finally:
        comm.close()
    (up, up_total, up_steps), (down, down_total, down_steps) = ui.bars
    assert up.startswith("Uploading") and up_total == 1_600_000
    assert sum(up_steps) == 1_600_000
    assert down.startswith("Downloading") and down_total == 1_600_000
    assert sum(down_steps) == 1_600_000


# -- folders ----------------------------------------------------------------------------


def make_tree(root: Path) -> Path:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_text("a")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "skip.pyc").write_text("x")
    (root / "sub" / "b.txt").write_text("b")
    (root / "sub" / "deep" / "c.txt").write_text("c")
    (root / "sub" / "deep" / "d.pyc").write_text("d")
    (root / "cache").mkdir()
    (root / "cache" / "big").write_text("cached")
    (root / "link").symlink_to("a.txt")
    return root


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


TREE = {
    "a.txt",
    "run.sh",
    "skip.pyc",
    "link",
    "empty",
    "sub",
    "sub/b.txt",
    "sub/deep",
    "sub/deep/c.txt",
    "sub/deep/d.pyc",
    "cache",
    "cache/big",
}


def test_upload_dir_trailing_slash_rule(comm: SSHCommunicator, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "site")
    comm.upload_dir(str(tmp_path / "with"), str(src) + "/")
    comm.upload_dir(str(tmp_path / "without"), str(src))
    assert listing(tmp_path / "with") == TREE
    assert listing(tmp_path / "without") == {"site"} | {f"site/{p}" for p in TREE}
    copied = tmp_path / "with"
    assert (copied / "sub" / "deep" / "c.txt").read_text() == "c"
    assert stat.S_IMODE((copied / "run.sh").stat().st_mode) == 0o755
    assert os.readlink(copied / "link") == "a.txt"


def test_upload_dir_excludes(comm: SSHCommunicator, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "site")
    comm.upload_dir(str(tmp_path / "out"), str(src) + "/", exclude=["*.pyc", "cache"])
    assert listing(tmp_path / "out") == TREE - {
        "skip.pyc",
        "sub/deep/d.pyc",
        "cache",
        "cache/big",
    }


def test_download_dir_rules_and_excludes(comm: SSHCommunicator, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "site")
    comm.download_dir(str(src) + "/", str(tmp_path / "with"))
    comm.download_dir(str(src), str(tmp_path / "without"), exclude=["sub/deep", "*.pyc"])
    assert listing(tmp_path / "with") == TREE
    assert listing(tmp_path / "without") == {"site"} | {
        f"site/{p}" for p in TREE - {"sub/deep", "sub/deep/c.txt", "sub/deep/d.pyc", "skip.pyc"}
    }
    assert stat.S_IMODE((tmp_path / "with" / "run.sh").stat().st_mode) == 0o755


def test_many_small_files(comm: SSHCommunicator, tmp_path: Path) -> None:
    src = tmp_path / "many"
    for folder in range(10):
        (src / f"d{folder}").mkdir(parents=True)
        for index in range(50):
            (src / f"d{folder}" / f"f{index}").write_bytes(os.urandom(index * 10))
    comm.upload_dir(str(tmp_path / "up"), str(src) + "/")
    comm.download_dir(str(tmp_path / "up") + "/", str(tmp_path / "down"))
    for path in src.rglob("f*"):
        rel = path.relative_to(src)
        assert (tmp_path / "down" / rel).read_bytes() == path.read_bytes()
    assert len(listing(tmp_path / "down")) == 510


def test_folder_errors(comm: SSHCommunicator, tmp_path: Path) -> None:
    with pytest.raises(CommunicatorError, match="not a folder"):
        comm.upload_dir(str(tmp_path / "x"), str(tmp_path / "nothing"))
    with pytest.raises(CommunicatorError, match=r"cannot download .*nothing.*No such file"):
        comm.download_dir(str(tmp_path / "nothing"), str(tmp_path / "y"))
    (tmp_path / "file").write_text("")
    with pytest.raises(CommunicatorError, match="cannot upload"):
        comm.upload_dir(str(tmp_path / "file" / "below"), str(make_tree(tmp_path / "t")))


# -- connecting -------------------------------------------------------------------------


def test_host_key_verification(sshd: SSHServer, tmp_path: Path) -> None:
    connected(sshd, ssh_host_key=sshd.host_public_key).close()
    other = generate_key_pair().public_key
    start = time.monotonic()
    with pytest.raises(CommunicatorError, match="host key verification failed") as failure:
        connected(sshd, ssh_host_key=other)
    assert time.monotonic() - start < 2  # not retried: trying again cannot help
    assert "SHA256:" in str(failure.value) and "ssh_host_key" in str(failure.value)


def test_known_hosts_file(sshd: SSHServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[{sshd.host}]:{sshd.port} {sshd.host_public_key}\n")
    connected(sshd, ssh_known_hosts_file=str(known)).close()
    known.write_text(f"[{sshd.host}]:{sshd.port} {generate_key_pair().public_key}\n")
    with pytest.raises(CommunicatorError, match="host key verification failed"):
        connected(sshd, ssh_known_hosts_file=str(known))
    known.write_text(f"otherhost {sshd.host_public_key}\n")
    with pytest.raises(CommunicatorError, match="not listed in the known_hosts file"):
        connected(sshd, ssh_known_hosts_file=str(known))


def test_bastion(sshd: SSHServer, tmp_path: Path) -> None:
    comm = connected(
        sshd,
        ssh_bastion_host=sshd.host,
        ssh_bastion_port=sshd.port,
        ssh_bastion_private_key_file=sshd.private_key_file,
    )
    try:
        assert run_command(comm, "echo via bastion") == (0, b"via bastion\n", b"")
        comm.upload(str(tmp_path / "b"), io.BytesIO(b"through"))
        assert (tmp_path / "b").read_bytes() == b"through"
    finally:
        comm.close()


def test_retries_until_the_timeout(sshd: SSHServer) -> None:
    start = time.monotonic()
    with pytest.raises(CommunicatorError) as failure:
        connected(sshd, ssh_port=free_port(), ssh_timeout=Duration(1))
    elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 2.5
    message = str(failure.value)
    assert message.startswith("Timeout waiting for SSH after 1s: cannot reach 127.0.0.1:")
    assert "Connection refused" in message and "ssh_timeout" in message


def test_refused_login_gives_up_after_the_handshake_attempts(
    sshd: SSHServer, tmp_path: Path
) -> None:
    key = tmp_path / "stranger"
    key.write_text(generate_key_pair().private_key)
    start = time.monotonic()
    with pytest.raises(CommunicatorError, match=r"refused the login of 'root'.*2 attempts"):
        connected(sshd, ssh_private_key_file=str(key), ssh_handshake_attempts=2)
    assert time.monotonic() - start < 3


def test_cancel_while_waiting_to_connect(sshd: SSHServer) -> None:
    ctx = Context()
    threading.Timer(0.3, ctx.cancel).start()
    comm = SSHCommunicator(make_config(sshd, ssh_port=free_port(), ssh_timeout=Duration(30)))
    start = time.monotonic()
    with pytest.raises(Cancelled):
        comm.connect(ctx)
    assert time.monotonic() - start < 1.5


def test_agent_auth(sshd: SSHServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = str(tmp_path / "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL)
    try:
        # the socket file appears before the agent listens on it: retry until it answers
        env = {**os.environ, "SSH_AUTH_SOCK": sock}
        for _ in range(100):
            added = subprocess.run(
                ["ssh-add", "-q", sshd.private_key_file], env=env, capture_output=True, text=True
            )
            if added.returncode == 0:
                break
            time.sleep(0.02)
        assert added.returncode == 0, added.stderr
        monkeypatch.setenv("SSH_AUTH_SOCK", sock)
        comm = connected(sshd, ssh_private_key_file="", ssh_agent_auth=True)
        assert run_command(comm, "echo agent")[1] == b"agent\n"
        comm.close()
    finally:
        agent.terminate()
        agent.wait()
    monkeypatch.delenv("SSH_AUTH_SOCK")
    with pytest.raises(CommunicatorError, match="no ssh-agent is running"):
        connected(sshd, ssh_private_key_file="", ssh_agent_auth=True)


@pytest.mark.parametrize(
    ("kind", "args"),
    [("rsa", ["-t", "rsa", "-b", "2048", "-m", "PEM"]), ("ecdsa", ["-t", "ecdsa", "-m", "PEM"])],
)
def test_pem_keys_log_in(sshd: SSHServer, tmp_path: Path, kind: str, args: list[str]) -> None:
    key = tmp_path / kind
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-f", str(key), *args], check=True)
    assert "BEGIN" in key.read_text() and "OPENSSH" not in key.read_text()
    with open(sshd.authorized_keys_file, "a") as f:
        f.write(key.with_suffix(".pub").read_text())
    comm = connected(sshd, ssh_private_key_file=str(key))
    try:
        assert comm.info.ssh_public_key.startswith(("ssh-rsa ", "ecdsa-sha2-nistp256 "))
        assert run_command(comm, "true")[0] == 0
    finally:
        comm.close()


def test_unusable_keys_are_explained(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)], check=True
    )
    with pytest.raises(CommunicatorError, match=r"passphrase.*ssh_agent_auth"):
        load_private_key(locked.read_text(), str(locked))
    with pytest.raises(CommunicatorError, match="not a private key kiln can use"):
        load_private_key("hello", "junk")


def test_secrets_are_not_logged(
    sshd: SSHServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pair = generate_key_pair()
    with open(sshd.authorized_keys_file, "a") as f:
        f.write(pair.public_key + "\n")
    config = make_config(sshd, ssh_private_key_file="", ssh_password="hunter2-password")
    comm = SSHCommunicator(config, private_key=pair.private_key, public_key=pair.public_key)
    comm.connect()
    try:
        run_command(comm, "true")
        assert comm.info.ssh_private_key == pair.private_key
    finally:
        comm.close()
    secret_line = pair.private_key.splitlines()[1]
    assert "hunter2-password" not in caplog.text and secret_line not in caplog.text


# -- temporary keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "bits", "prefix"),
    [
        ("ed25519", 0, "ssh-ed25519 "),
        ("rsa", 2048, "ssh-rsa "),
        ("ecdsa", 384, "ecdsa-sha2-nistp384 "),
    ],
)
def test_generate_key_pair(tmp_path: Path, kind: str, bits: int, prefix: str) -> None:
    pair = generate_key_pair(kind, bits, comment="kiln_test")
    assert pair.private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert pair.public_key.startswith(prefix) and pair.public_key.endswith(" kiln_test")
    key = tmp_path / "key"
    key.write_text(pair.private_key)
    key.chmod(0o600)
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True
    )
    assert derived.stdout.split()[:2] == pair.public_key.split()[:2]


# -- steps ------------------------------------------------------------------------------


def test_steps_connect_with_a_temporary_key(sshd: SSHServer) -> None:
    config = make_config(sshd, ssh_private_key_file="", ssh_host="")
    ui = MockUi()
    state = StateBag(ui=ui)
    assert StepTemporaryKeyPair(config).run(state) is Action.CONTINUE
    assert state["ssh_public_key"].endswith(" " + state["ssh_key_name"])
    with open(sshd.authorized_keys_file, "a") as f:
        f.write(state["ssh_public_key"] + "\n")
    config.pause_before_connecting = Duration(0.1)
    step = StepConnect(config, host=lambda s: sshd.host, ctx=Context())
    assert step.run(state) is Action.CONTINUE
    comm = state["communicator"]
    assert ui.says[1:] == [
        "Waiting 100ms before connecting...",
        f"Using SSH communicator to connect: {sshd.host}",
        "Waiting for SSH to become available...",
        "Connected to SSH!",
    ]
    assert comm.info.ssh_private_key == state["ssh_private_key"]
    assert comm.info.ssh_public_key == state["ssh_public_key"]
    assert run_command(comm, "echo hi")[1] == b"hi\n"
    step.cleanup(state)
    with pytest.raises(CommunicatorError, match="not connected"):
        comm.start(RemoteCmd("true"))


def test_step_connect_failures_and_none(sshd: SSHServer) -> None:
    state = StateBag(ui=MockUi())
    none = make_config(sshd, communicator="none")
    assert StepConnect(none, ctx=Context()).run(state) is Action.CONTINUE
    assert state["communicator"] is None
    closed = make_config(sshd, ssh_port=free_port(), ssh_timeout=Duration(0.3))
    with pytest.raises(BuildError, match="Timeout waiting for SSH"):
        StepConnect(closed, ctx=Context()).run(StateBag(ui=MockUi()))


def test_step_temporary_key_pair_skips_user_credentials(sshd: SSHServer) -> None:
    state = StateBag(ui=MockUi())
    StepTemporaryKeyPair(make_config(sshd)).run(state)
    StepTemporaryKeyPair(make_config(sshd, ssh_private_key_file="", ssh_password="pw")).run(state)
    assert "ssh_private_key" not in state


def test_step_cleanup_temp_keys() -> None:
    config = CommunicatorConfig(ssh_username="admin", ssh_clear_authorized_keys=True)
    mock = MockCommunicator()
    state = StateBag(ui=MockUi(), communicator=mock, ssh_key_name="kiln_123")
    StepCleanupTempKeys(config, ctx=Context()).run(state)
    assert mock.commands == [
        "sed -i.bak '/ kiln_123$/d' ~/.ssh/authorized_keys; rm -f ~/.ssh/authorized_keys.bak",
        "sudo sed -i.bak '/ kiln_123$/d' /root/.ssh/authorized_keys; "
        "sudo rm -f /root/.ssh/authorized_keys.bak",
    ]


# -- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option", "message"),
    [
        ({"ssh_username": ""}, "ssh_username", "ssh_username must be set"),
        ({"communicator": "winrm"}, "communicator", 'communicator "winrm" is not supported'),
        ({"ssh_host_key": "ssh-ed25519 nope"}, "ssh_host_key", "not a base64-encoded"),
        ({"ssh_private_key_file": "/nonexistent"}, "ssh_private_key_file", "is not a file"),
        ({"ssh_bastion_host": "jump"}, "ssh_bastion_host", "ssh_bastion_password"),
        (
            {"ssh_temporary_key_pair_type": "rsa", "ssh_temporary_key_pair_bits": 1024},
            "ssh_temporary_key_pair_bits",
            "at least 2048",
        ),
        ({"ssh_handshake_attempts": 0}, "ssh_handshake_attempts", "at least 1"),
    ],
)
def test_validate_communicator(options: dict[str, Any], option: str, message: str) -> None:
    config = CommunicatorConfig(**{"ssh_username": "u", **options})
    with pytest.raises(ConfigError, match=message) as failure:
        config.validate_communicator()
    assert failure.value.option == option


def test_validate_accepts_good_settings(sshd: SSHServer) -> None:
    make_config(sshd, ssh_host_key=sshd.host_public_key).validate_communicator()
    CommunicatorConfig(communicator="docker").validate_communicator(("docker", "none"))
    wrong_type = sshd.host_public_key.replace("ssh-ed25519", "ssh-rsa", 1)
    with pytest.raises(ConfigError, match="type ssh-ed25519"):
        make_config(sshd, ssh_host_key=wrong_type).validate_communicator()


# -- local ------------------------------------------------------------------------------


def test_local_commands() -> None:
    local = LocalCommunicator()
    assert run_command(local, "echo out; echo err >&2; exit 4") == (4, b"out\n", b"err\n")
    assert run_command(local, "tr a-z A-Z", stdin=b"hello") == (0, b"HELLO", b"")
    ctx = Context()
    threading.Timer(0.2, ctx.cancel).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        local.start(RemoteCmd("sleep 30"), ctx)
    assert time.monotonic() - start < 2


def test_local_files_and_folders(tmp_path: Path) -> None:
    local = LocalCommunicator()
    local.upload(str(tmp_path / "f"), io.BytesIO(b"data"), mode=0o700)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o700
    out = io.BytesIO()
    local.download(str(tmp_path / "f"), out)
    assert out.getvalue() == b"data"
    src = make_tree(tmp_path / "site")
    local.upload_dir(str(tmp_path / "with"), str(src) + "/", exclude=["*.pyc", "cache"])
    local.download_dir(str(src), str(tmp_path / "without"))
    assert listing(tmp_path / "with") == TREE - {"skip.pyc", "sub/deep/d.pyc", "cache", "cache/big"}
    assert listing(tmp_path / "without") == {"site"} | {f"site/{p}" for p in TREE}
    with pytest.raises(CommunicatorError, match="cannot read"):
        local.download(str(tmp_path / "missing"), io.BytesIO())


PASSWORD_USER = "kiln-pw-test"


@pytest.fixture(scope="module")
def password_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SSHServer, str]]:
    """An sshd that takes passwords, and a throwaway system user with one (tests run as
    root here, as in CI: creating the user is part of the set-up)."""
    if os.geteuid() != 0:
        pytest.fail("the password-login test needs root to create its throwaway user")
    password = secrets.token_urlsafe(12)
    subprocess.run(["userdel", PASSWORD_USER], capture_output=True)
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", PASSWORD_USER], check=True)
    subprocess.run(["chpasswd"], input=f"{PASSWORD_USER}:{password}", text=True, check=True)
    try:
        with running_sshd(tmp_path_factory.mktemp("pw-sshd"), password_auth=True) as server:
            yield server, password
    finally:
        subprocess.run(["userdel", PASSWORD_USER], capture_output=True)


def test_password_login(password_sshd: tuple[SSHServer, str]) -> None:
    server, password = password_sshd
    comm = connected(
        server, ssh_username=PASSWORD_USER, ssh_password=password, ssh_private_key_file=""
    )
    try:
        status, out, _ = run_command(comm, "id -un")
        assert (status, out.strip()) == (0, PASSWORD_USER.encode())
        assert comm.info.password == password
    finally:
        comm.close()


def test_a_wrong_password_is_retried_until_ssh_timeout_then_named(
    password_sshd: tuple[SSHServer, str],
) -> None:
    server, _ = password_sshd
    start = time.monotonic()
    with pytest.raises(CommunicatorError) as info:
        connected(server, ssh_username=PASSWORD_USER, ssh_password="wrong", ssh_private_key_file="")
    assert time.monotonic() - start < 10
    assert "wrong" not in str(info.value)
    # retried as Packer does (a machine may still be setting its password up), then named
    assert "refused the login of 'kiln-pw-test' (tried password)" in str(info.value)


def test_only_a_machine_that_outlives_the_build_is_reachable_by_kiln_reap(
    sshd: SSHServer,
) -> None:
    config = make_config(sshd)
    assert SSHCommunicator(config).reap_details() is None  # goes with the build
    details = SSHCommunicator(config, outlives_build=True).reap_details()
    assert details is not None
    assert details["ssh"]["ssh_host"] == sshd.host
    assert details["ssh"]["ssh_private_key_file"] == sshd.private_key_file
    assert "ssh_password" not in details["ssh"]
    # a key this run made cannot log in again later
    temporary = SSHCommunicator(
        config, private_key=Path(sshd.private_key_file).read_text(), outlives_build=True
    )
    assert temporary.reap_details() is None
