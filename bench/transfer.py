"""File transfers over SSH: kiln's SSH communicator against OpenSSH's ``scp``, both to the
same sshd on loopback (the tests' sshd, see tests/sshd.py).

Each kiln run connects a fresh SSHCommunicator and transfers, in this process (as
during a build, where kiln is already running); each ``scp`` run is the whole command,
which also connects. Targets: one 512 MiB file up and down at 0.9× scp's throughput or
better (time ratio ≤ 1/0.9), a folder of 5,000 small files up at least twice as fast
as ``scp -r`` (ratio ≤ 0.5).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import BenchError, Benchmark, Options, Row, median_times
from tests.sshd import SSHServer, running_sshd

from kiln.communicator.ssh import SSHCommunicator
from kiln.sdk import CommunicatorConfig

BIG = 512 * 1024 * 1024
SMALL_FILES = 5000
FILE_TARGET = 1 / 0.9
FOLDER_TARGET = 0.5


@contextmanager
def _server() -> Iterator[tuple[SSHServer, Path]]:
    if shutil.which("scp") is None:
        raise BenchError("scp is missing: run scripts/bootstrap (it installs openssh-client)")
    with tempfile.TemporaryDirectory(prefix="kiln-bench-transfer-") as tmp:
        work = Path(tmp)
        (work / "sshd").mkdir()
        try:
            with running_sshd(work / "sshd") as server:
                yield server, work
        except RuntimeError as exc:  # sshd is missing or did not start
            raise BenchError(str(exc)) from None


def _scp(server: SSHServer, *args: str) -> list[str]:
    return [
        "scp",
        "-q",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR",
        "-i", server.private_key_file,
        "-P", str(server.port),
        *args,
    ]  # fmt: skip


def _remote(server: SSHServer, path: Path) -> str:
    return f"{server.user}@{server.host}:{path}"


def _connect(server: SSHServer) -> SSHCommunicator:
    config = CommunicatorConfig(
        ssh_host=server.host,
        ssh_port=server.port,
        ssh_username=server.user,
        ssh_private_key_file=server.private_key_file,
    )
    comm = SSHCommunicator(config)
    comm.connect()
    return comm


def _run_scp(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(argv)}` exited {proc.returncode}: {proc.stderr.strip()}")


def _throughput(row: Row) -> None:
    row.notes.append(
        f"kiln {BIG / row.kiln / 2**20:.0f} MiB/s, "
        f"scp {BIG / (row.reference or 1) / 2**20:.0f} MiB/s"
    )


def upload_file(options: Options) -> list[Row]:
    with _server() as (server, work):
        src = work / "big.bin"
        _random_file(src, BIG)
        dst = work / "uploaded.bin"

        def kiln() -> None:
            comm = _connect(server)
            with open(src, "rb") as f:
                comm.upload(str(dst), f)
            comm.close()

        def scp() -> None:
            _run_scp(_scp(server, str(src), _remote(server, dst)))

        kiln_time, scp_time = median_times([kiln, scp], options, lambda: _clear(dst))
        if dst.stat().st_size != BIG:
            raise BenchError("the uploaded file has the wrong size")
    row = Row("upload 512 MiB file (vs scp)", kiln_time, scp_time, FILE_TARGET)
    _throughput(row)
    return [row]


def download_file(options: Options) -> list[Row]:
    with _server() as (server, work):
        src = work / "big.bin"
        _random_file(src, BIG)
        dst = work / "downloaded.bin"

        def kiln() -> None:
            comm = _connect(server)
            with open(dst, "wb") as f:
                comm.download(str(src), f)
            comm.close()

        def scp() -> None:
            _run_scp(_scp(server, _remote(server, src), str(dst)))

        kiln_time, scp_time = median_times([kiln, scp], options, lambda: _clear(dst))
        if dst.stat().st_size != BIG:
            raise BenchError("the downloaded file has the wrong size")
    row = Row("download 512 MiB file (vs scp)", kiln_time, scp_time, FILE_TARGET)
    _throughput(row)
    return [row]


def upload_folder(options: Options) -> list[Row]:
    with _server() as (server, work):
        src = work / "site"
        _small_files(src, SMALL_FILES)
        dst = work / "uploaded"

        def reset() -> None:
            _clear(dst)
            dst.mkdir()

        def kiln() -> None:
            comm = _connect(server)
            comm.upload_dir(str(dst), str(src))
            comm.close()

        def scp() -> None:
            _run_scp(_scp(server, "-r", str(src), _remote(server, dst)))

        kiln_time, scp_time = median_times([kiln, scp], options, reset)
        copied = sum(len(files) for _, _, files in os.walk(dst / "site"))
        if copied != SMALL_FILES:
            raise BenchError(f"the upload made {copied} files, not {SMALL_FILES}")
    row = Row("upload_dir 5,000 small files (vs scp -r)", kiln_time, scp_time, FOLDER_TARGET)
    row.notes.append("one tar stream over an exec channel; scp -r makes a round trip per file")
    return [row]


def _clear(path: Path) -> None:
    """Remove the last run's copy and flush the disk, so that no run pays for the
    previous one's deletion or writeback."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    os.sync()


def _random_file(path: Path, size: int) -> None:
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size // len(chunk)):
            f.write(chunk)


def _small_files(root: Path, count: int) -> None:
    """``count`` files of 100 B to 8 KiB in 50 folders, as a website or a source tree."""
    rng = random.Random(5000)
    for index in range(count):
        folder = root / f"dir{index % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{index:04d}.txt").write_bytes(rng.randbytes(rng.randint(100, 8192)))


BENCHMARKS = [
    Benchmark("transfer-upload", "kiln SSH upload vs scp, one 512 MiB file", upload_file),
    Benchmark("transfer-download", "kiln SSH download vs scp, one 512 MiB file", download_file),
    Benchmark("transfer-upload-dir", "kiln upload_dir vs scp -r, 5,000 small files", upload_folder),
]
