"""``kiln build`` against ``packer build`` (1.6.6): one null-builder template over SSH.

Both tools build the same template against the same sshd on loopback: connect, run
a shell provisioner, upload a file, run a local post-processor. Target: kiln no
slower than Packer (ratio ≤ 1.0).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import Benchmark, Options, Row, build_commands, median_wall_times
from tests.sshd import SSHServer, running_sshd  # the tests' sshd, reused

TARGET = 1.0

BUILD = """
build {{
  sources = ["source.null.bench"]

  provisioner "shell" {{
    inline = ["echo provisioning on $(hostname)", "mkdir -p {remote}"]
  }}

  provisioner "file" {{
    source      = "{payload}"
    destination = "{remote}/payload.txt"
  }}

  post-processor "shell-local" {{
    inline = ["echo done"]
  }}
}}
"""


def _template(folder: Path, server: SSHServer) -> Path:
    payload = folder / "payload.txt"
    payload.write_text("hello\n" * 1000)
    path = folder / "bench.pkr.hcl"
    build = BUILD.format(payload=payload, remote=folder / "remote")
    path.write_text(server.null_source("bench") + build)
    return path


def null_ssh_build(options: Options) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="kiln-bench-build-") as tmp:
        folder = Path(tmp)
        (folder / "sshd").mkdir()
        with running_sshd(folder / "sshd") as server:
            path = _template(folder, server)
            kiln, packer = median_wall_times(build_commands(path), options, cwd=folder)
    row = Row("build null over ssh", kiln, packer, TARGET)
    row.notes.append("shell + file provisioners and a shell-local post-processor, loopback sshd")
    return [row]


BENCHMARKS = [
    Benchmark(
        "build-null-ssh",
        "kiln vs packer build of one null-builder template over SSH",
        null_ssh_build,
    ),
]
