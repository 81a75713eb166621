"""Leftovers after Ctrl-C: kiln and Packer 1.6.6 interrupted at every step of a docker
build and of an amazon-ebs build, and what each leaves behind in the engine and the
emulator.

For each tool, a first run of the template, untimed and whole, records its step lines
(``==> NAME: ...``, the lines both tools print as a step starts its work). Then, for
each step line in turn, a new run gets SIGINT as that line appears, sent to its process
group as a terminal's Ctrl-C is (the tool's children get it too). The tool has
:data:`GRACE` seconds to clean up and exit; if it has not, it hung: its group is killed
(SIGKILL) and the run counted as hung. After each run the benchmark counts, through the
engine's and the emulator's APIs, every kind of thing the build made that is still
there, and what the run left running in its process group; then it removes all of it,
so that every run starts from the same state. A run that still finished (exit 0: the
signal came after the last step that could stop it) keeps its artifact, which is not
counted.

- ``leaks-docker``: the docker-build template (bench/docker.py: the local busybox
  image, shell and file provisioners, commit) on a private engine; counted: containers,
  images other than the base, volumes.
- ``leaks-amazon-ebs``: an amazon-ebs build against moto's EC2 server with a temporary
  key pair and security group (both tools create them: Packer 1.6.6 through
  CreateKeyPair, an RSA key moto makes; kiln an ed25519 key it imports) and a loopback
  sshd as "the instance", one that accepts any key (``tests.ec2.running_any_key_sshd``);
  counted: instances not terminated, key pairs, security groups, launch templates, AMIs,
  snapshots, volumes. The emulator is reset (``/moto-api/reset``) after every run.

Each benchmark's row holds the totals (kiln's and Packer's leftovers over all its
runs); its notes hold the table, step by step, side by side. The target is none left by
kiln at any step.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from amazon import ec2_and_sshd
from common import (
    BenchError,
    Benchmark,
    Options,
    Row,
    build_commands,
    command_env,
    environment,
)
from docker import build_env, build_template, private_engine
from tests.ec2 import running_any_key_sshd

#: a step line, as both tools print it: ``==> docker.a: Committing the container``
STEP_LINE = re.compile(r"^==> (\S+?): (.+)$")
#: seconds a tool has after the SIGINT to clean up and exit before it counts as hung
GRACE = 30.0
#: seconds a run may take before it is interrupted (a step line that never came)
LIMIT = 120.0
#: the widest a step's text is shown in the table
LABEL_WIDTH = 44

AMAZON_TEMPLATE = """
source "amazon-ebs" "leaks" {{
  region                                = "us-east-1"
  custom_endpoint_ec2                   = "{endpoint}"
  skip_credential_validation            = true
  skip_metadata_api_check               = true
  source_ami                            = "ami-760aaa0f"
  instance_type                         = "t2.micro"
  ami_name                              = "kiln-bench-leaks"
  temporary_security_group_source_cidrs = ["127.0.0.1/32"]
  ssh_host                              = "{host}"
  ssh_port                              = {port}
  ssh_username                          = "{user}"
}}

build {{
  sources = ["source.amazon-ebs.leaks"]

  provisioner "shell" {{
    inline = ["echo provisioning on $(hostname)"]
  }}
}}
"""


@dataclass(frozen=True)
class Bed:
    """A builder's test bed: its template, the environment of a run, how to count what
    a run left (kind: number) and how to remove everything a run made."""

    template: Path
    env: dict[str, str]
    count: Callable[[], Counter[str]]
    reset: Callable[[], None]
    #: what a finished build keeps as its artifact (not a leftover)
    artifact: Counter[str]


@dataclass(frozen=True)
class Outcome:
    """One interrupted run: the step line at which the SIGINT went, the exit status
    (None: it hung and was killed), what it left, and its output."""

    step: str
    status: int | None
    left: Counter[str]
    output: list[str]


def _pump(stream: IO[str], lines: queue.Queue[str | None], output: list[str]) -> None:
    for line in stream:
        output.append(line)
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _group_members(group: int) -> list[int]:
    """The live (not zombie) processes of process group ``group``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        state, _parent, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append(int(entry))
    return members


@dataclass
class Ran:
    """What :func:`_run` saw: the step lines, the exit status (None: killed), how many
    of its children the tool left running, and all its output."""

    steps: list[str]
    status: int | None
    stragglers: int
    output: list[str]


def _run(argv: Sequence[str], bed: Bed, at: int | None) -> Ran:
    """Run ``argv``; with ``at``, SIGINT its process group as its step line number
    ``at`` (from 0) appears. Its exit status is None if it had not exited :data:`GRACE`
    s after the signal, or :data:`LIMIT` s after it started: then it is killed."""
    proc = subprocess.Popen(
        argv,
        cwd=bed.template.parent,
        env=command_env({**bed.env, "PYTHONUNBUFFERED": "1"}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []
    pump = threading.Thread(target=_pump, args=(proc.stdout, lines, output), daemon=True)
    pump.start()
    steps: list[str] = []
    deadline = time.monotonic() + LIMIT
    while (line := _next_line(lines, deadline)) is not None:
        match = STEP_LINE.match(line)
        if match is None:
            continue
        steps.append(match.group(2))
        if at is not None and len(steps) == at + 1:
            os.killpg(proc.pid, signal.SIGINT)
            deadline = time.monotonic() + GRACE
    try:
        status: int | None = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        status = None
    stragglers = [pid for pid in _group_members(proc.pid) if pid != proc.pid]
    if status is None or stragglers:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    pump.join(timeout=10)  # the rest of its output
    proc.stdout.close()
    return Ran(steps, status, len(stragglers), output)


def _next_line(lines: queue.Queue[str | None], deadline: float) -> str | None:
    """The next line of output; None at its end or at ``deadline``."""
    try:
        return lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        return None


def _leftovers(bed: Bed, ran: Ran) -> Counter[str]:
    """What the last run left (its artifact aside, if it finished), then removed."""
    left = bed.count()
    if ran.status == 0:
        left -= bed.artifact
    left["processes"] = ran.stragglers
    bed.reset()
    return +left  # only the kinds it left


def _interrupt_each_step(argv: Sequence[str], bed: Bed) -> list[Outcome]:
    """A whole run that records the step lines, then one run interrupted at each."""
    whole = _run(argv, bed, None)
    left = _leftovers(bed, whole)
    if whole.status != 0 or left or not whole.steps:
        raise BenchError(
            f"`{' '.join(argv)}` exited {whole.status} after {len(whole.steps)} steps, "
            f"leaving {dict(left)}:\n{''.join(whole.output)}"
        )
    outcomes = []
    for at, step in enumerate(whole.steps):
        ran = _run(argv, bed, at)
        outcomes.append(Outcome(step, ran.status, _leftovers(bed, ran), ran.output))
    return outcomes


def _label(step: str) -> str:
    """A step line shortened for the table (long ids elided)."""
    text = re.sub(r"[0-9a-f]{8,}(?:-[0-9a-f]{4,})*", "…", step)
    return text if len(text) <= LABEL_WIDTH else text[: LABEL_WIDTH - 1] + "…"


def _things(left: Counter[str]) -> str:
    """``1 container, 2 images``, or ``-`` for nothing."""
    return ", ".join(_kind(kind, n) for kind, n in sorted(left.items())) or "-"


def _kind(kind: str, n: int) -> str:
    name = kind.replace("_", " ")
    if n == 1:
        name = "process" if name == "processes" else name.removesuffix("s")
    return f"{n} {name}"


def _cell(outcome: Outcome | None) -> tuple[str, str]:
    if outcome is None:
        return "", ""
    left = _things(outcome.left)
    if outcome.status is None:
        left += " (hung, killed)"
    elif outcome.status == 0:
        left += " (finished)"
    return _label(outcome.step), left


def side_by_side(kiln: Sequence[Outcome], packer: Sequence[Outcome]) -> list[str]:
    """The table: one line per step number, each tool's step line and leftovers."""
    header = ("#", "kiln step", "kiln left", "packer 1.6.6 step", "packer left")
    cells = [header]
    for index in range(max(len(kiln), len(packer))):
        mine = kiln[index] if index < len(kiln) else None
        theirs = packer[index] if index < len(packer) else None
        cells.append((str(index + 1), *_cell(mine), *_cell(theirs)))
    widths = [max(len(row[col]) for row in cells) for col in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    for name, outcomes in (("kiln", kiln), ("packer", packer)):
        total: Counter[str] = sum((o.left for o in outcomes), Counter())
        hung = [str(i + 1) for i, o in enumerate(outcomes) if o.status is None]
        finished = sum(o.status == 0 for o in outcomes)
        lines.append(
            f"{name}: {len(outcomes)} runs, left {_things(total)}; "
            f"hung at {', '.join(hung) or 'none'}; {finished} finished anyway"
        )
    return lines


def _row(builder: str, bed: Bed) -> Row:
    kiln, packer = (_interrupt_each_step(argv, bed) for argv in build_commands(bed.template))
    total = [float(sum(sum(o.left.values()) for o in runs)) for runs in (kiln, packer)]
    row = Row(
        f"leftovers after SIGINT, {builder}",
        total[0],
        total[1],
        target=0.0,
        limit=0.0,
        unit="left",
        digits=0,
        missed="LEAKS",
    )
    row.notes.extend(side_by_side(kiln, packer))
    row.notes.extend(_keep_outputs(builder, kiln, packer))
    return row


def _keep_outputs(builder: str, kiln: Sequence[Outcome], packer: Sequence[Outcome]) -> list[str]:
    """Save the output of every run that left something or hung, in a folder that
    outlives the benchmark; a note that names it, if there were any."""
    bad = [
        (tool, index, outcome)
        for tool, outcomes in (("kiln", kiln), ("packer", packer))
        for index, outcome in enumerate(outcomes, 1)
        if outcome.left or outcome.status is None
    ]
    if not bad:
        return []
    folder = Path(tempfile.mkdtemp(prefix=f"kiln-bench-leaks-{builder.split()[0]}-"))
    for tool, index, outcome in bad:
        (folder / f"{tool}-{index:02d}.log").write_text("".join(outcome.output))
    return [f"output of the runs that left something or hung: {folder}/TOOL-NN.log"]


def leaks_docker(options: Options) -> list[Row]:
    with private_engine() as (engine, base, folder):

        def count() -> Counter[str]:
            images = [image for image in engine.images() if image != base]
            return Counter(
                containers=len(engine.containers()),
                images=len(images),
                volumes=len(engine.volumes()),
            )

        def reset() -> None:
            for kind, listed, remove in (
                ("containers", engine.containers(), ("rm", "--force")),
                ("images", [i for i in engine.images() if i != base], ("rmi", "--force")),
                ("volumes", engine.volumes(), ("volume", "rm", "--force")),
            ):
                if listed and engine.docker(*remove, *listed, check=False).returncode != 0:
                    raise BenchError(f"could not remove the {kind} a build left")

        bed = Bed(build_template(folder, "a"), build_env(engine), count, reset, Counter(images=1))
        return [_row("docker", bed)]


@contextmanager
def _amazon_bed() -> Iterator[Bed]:
    """moto's EC2 server and an any-key sshd on loopback, and the template."""
    with ec2_and_sshd("kiln-bench-leaks-", running_any_key_sshd) as (folder, emulator, server):
        template = folder / "leaks.pkr.hcl"
        template.write_text(
            AMAZON_TEMPLATE.format(
                endpoint=emulator.endpoint, host=server.host, port=server.port, user=server.user
            )
        )
        baseline = emulator.resources()

        def count() -> Counter[str]:
            now = emulator.resources()
            return Counter({kind: len(now[kind] - baseline[kind]) for kind in now})

        yield Bed(template, emulator.env(), count, emulator.reset, Counter(images=1, snapshots=1))


def leaks_amazon_ebs(options: Options) -> list[Row]:
    with _amazon_bed() as bed, environment(bed.env):
        # the host's AWS variables, which EC2Emulator.env drops, stay out
        return [_row("amazon-ebs (EC2 emulator)", bed)]


BENCHMARKS = [
    Benchmark(
        "leaks-docker",
        "leftovers after SIGINT at each step of a docker build, kiln vs packer",
        leaks_docker,
    ),
    Benchmark(
        "leaks-amazon-ebs",
        "leftovers after SIGINT at each step of an amazon-ebs build (moto), kiln vs packer",
        leaks_amazon_ebs,
    ),
]
