"""amazon-ebs fails, is interrupted or killed at every step and leaves nothing behind.

A real ``kiln build`` runs against moto's EC2 server; the faults are injected at the AWS
client boundary of that subprocess (``faults/sitecustomize.py``, on its ``PYTHONPATH``):
one EC2 call fails with ``InjectedFault`` before it is sent, or after EC2 did the work
(a lost answer), or the answers of a wait's ``Describe*`` call are rewritten so the wait
never ends and the build is interrupted there (SIGINT, SIGTERM), or a call never
returns and the build is killed there (SIGKILL) and ``kiln reap`` runs after it. The
emulator also goes away mid-build and comes back. Every way, the build (or the reap
after it) must leave the emulator's resources as they were before it: instances not
terminated, key pairs, security groups, launch templates, AMIs, snapshots and volumes,
in every region it touched; and a build that cleaned up leaves no journal. Each point
is recorded through ``fault_report``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from test_amazon_build import REGIONS, SECRET, build, build_block, source, write
from tests.conftest import KILN, run_kiln
from tests.ec2 import EC2Emulator, running_ec2
from tests.faults import FaultReport
from tests.sshd import SSHServer, free_port

from kiln.engine.reap import read_journal

#: the folder whose sitecustomize.py injects the faults into a kiln subprocess
FAULTS = Path(__file__).parent / "faults"
BASE = 'source_ami = "ami-760aaa0f"\nami_name = "kiln-faults"\n'
SPOT = 'spot_price = "auto"\n'
COPIES = 'ami_regions = ["us-west-2", "eu-west-1"]\n'
PROVISIONER = 'provisioner "shell" { inline = ["true"] }'


@dataclass(frozen=True, kw_only=True)
class Point:
    """The build of an injection point: ``body`` in its source, its ``provisioner``, and
    ``ssh`` settings replacing source()'s (see :func:`template`)."""

    body: str = ""
    provisioner: str = PROVISIONER
    ssh: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case(Point):
    """A build with ``KILN_TEST_AWS_FAULT=fault``: it must fail saying ``error``
    (``InjectedFault`` too, when there is a fault), after the step reached printed
    ``reached``."""

    fault: str
    error: str
    reached: str = ""


#: a failure at each step, by the step's key EC2 call (counted ``:N`` when the build
#: makes that call more than once, ``@region`` for one region's calls)
CASES = {
    # StepPreValidate
    "pre-validate regions": Case("DescribeRegions", "Cannot list the regions"),
    "pre-validate AMI name": Case("DescribeImages:1", "Cannot look up AMIs by name"),
    # StepSourceAMIInfo: the name check above is DescribeImages' first call
    "source AMI": Case("DescribeImages:2", "Cannot look up the source AMI"),
    # StepNetworkInfo: subnet_id (the default VPC's) makes it look the subnet up
    "network": Case("DescribeSubnets", "Cannot look up subnet", body="subnet_id = SUBNET\n"),
    # StepKeyPair, StepSecurityGroup
    "key pair": Case("CreateKeyPair", "Cannot create the temporary key pair"),
    "security group": Case("CreateSecurityGroup", "Cannot create the temporary security group"),
    "security group ingress": Case(
        "AuthorizeSecurityGroupIngress", "Cannot open the communicator's port"
    ),
    # StepRunSourceInstance: the launch, then the wait for it to run
    "run instance": Case("RunInstances", "Cannot launch the source instance"),
    "running wait": Case(
        "DescribeInstances:1",
        "Cannot look up the instance",
        reached="to become ready...",
    ),
    # StepConnect, StepProvision: failures that are not AWS's
    "ssh connect": Case(
        "",
        "Timeout waiting for SSH",
        ssh={"ssh_port": "CLOSED_PORT", "ssh_timeout": '"2s"'},
    ),
    "provisioner": Case(
        "",
        "non-zero exit status: 1",
        provisioner='provisioner "shell" { inline = ["exit 1"] }',
        reached="Provisioning with shell script",
    ),
    # StepStopInstance: the stop, then its wait (DescribeInstances' third call)
    "stop instance": Case("StopInstances", "Cannot stop the instance"),
    "stop wait": Case(
        "DescribeInstances:3", "InjectedFault", reached="Waiting for the instance to stop..."
    ),
    # StepModifyInstance
    "enable ENA": Case("ModifyInstanceAttribute", "Cannot enable ENA", body="ena_support = true\n"),
    # StepDeregisterAMI: no name check before it, so the source is the first lookup
    "force deregister": Case(
        "DescribeImages:2", "Cannot look up AMIs by name", body="force_deregister = true\n"
    ),
    # StepCreateAMI: the image, its wait, and the snapshot tags right after it
    "create AMI": Case("CreateImage", "Cannot create the AMI"),
    "AMI wait": Case("DescribeImages:3", "Cannot look up the AMI", reached="AMI: ami-"),
    "AMI snapshot tags": Case("CreateTags:1", "Cannot tag the AMI's snapshots"),
    # StepAMIRegionCopy: one copy fails while the other one is made; a copy's wait
    "copy to a region": Case(
        "CopyImage@eu-west-1", "Cannot copy the AMI to eu-west-1", body=COPIES
    ),
    "copy wait": Case(
        # the first looks for AMIs of the name already there, the second waits
        "DescribeImages:2@us-west-2",
        "Cannot look up the AMI",
        body=COPIES,
        reached="in us-west-2 to become ready",
    ),
    "encrypted copy back to the build region": Case(
        "CopyImage", "Cannot copy the AMI to us-east-1", body="encrypt_boot = true\n"
    ),
    # StepDeprecate: moto does not implement EnableImageDeprecation (it answers 500)
    "deprecate": Case(
        "",
        "Cannot set the AMI's deprecation time",
        body=f'{COPIES}deprecate_at = "2030-01-01T00:00:00Z"\n',
    ),
    # StepModifyAMIAttributes, in the second region of three
    "share AMI": Case(
        "ModifyImageAttribute@us-west-2",
        "Cannot share the AMI",
        body=f'{COPIES}ami_users = ["111122223333"]\n',
    ),
    "share snapshots": Case(
        "ModifySnapshotAttribute",
        "Cannot share the snapshot",
        body=f'{COPIES}snapshot_users = ["444455556666"]\n',
    ),
    # StepCreateTags: tags, snapshot tags, then the run's tags come off
    # (the first in us-east-1 tags the snapshots; each copy tags itself in its region)
    "tags": Case(
        "CreateTags:2@us-east-1", "Cannot tag the AMI", body=f'{COPIES}tags = {{ Team = "web" }}\n'
    ),
    "snapshot tags": Case(
        "CreateTags:3",
        "Cannot tag the snapshots",
        body='tags = { Team = "web" }\nsnapshot_tags = { Kind = "root" }\n',
    ),
    "run tags removal": Case("DeleteTags@eu-west-1", "Cannot remove the run's tags", body=COPIES),
    "run tags removal, encrypted": Case(
        "DeleteTags", "Cannot remove the run's tags", body="encrypt_boot = true\n"
    ),
    # StepRunSpotInstance: the template, the fleet, the wait, the tags
    "spot launch template": Case(
        "CreateLaunchTemplate", "Cannot create the launch template", body=SPOT
    ),
    "spot fleet": Case("CreateFleet", "Cannot request the spot instance", body=SPOT),
    "spot running wait": Case(
        "DescribeInstances:1",
        "Cannot look up the instance",
        body=SPOT,
        reached="to become ready...",
    ),
    "spot instance tags": Case("CreateTags:1", "Cannot tag the spot instance", body=SPOT),
    "spot AMI": Case("CreateImage", "Cannot create the AMI", body=SPOT),
}


def template(
    ec2: EC2Emulator,
    sshd: SSHServer,
    body: str,
    provisioner: str = PROVISIONER,
    ssh: dict[str, str] | None = None,
) -> str:
    """The one-source build of these tests; ``ssh`` replaces source()'s settings."""
    if "SUBNET" in body:
        subnets = ec2.client().describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}]
        )["Subnets"]
        body = body.replace("SUBNET", f'"{subnets[0]["SubnetId"]}"')
    text = source(ec2, sshd, BASE + body)
    for name, value in (ssh or {}).items():
        value = value.replace("CLOSED_PORT", str(free_port()))
        text, count = re.subn(rf"(?m)^(\s*{name}\s*=).*$", rf"\g<1> {value}", text)
        assert count == 1, name
    return text + build_block(provisioner)


def environment(log: Path, **settings: str) -> dict[str, str]:
    """What a kiln subprocess needs on top of the emulator's environment for the
    injection: ``settings`` are the ``KILN_TEST_AWS_*`` variables, lower-cased. Its
    journals go to ``state`` beside ``log`` (see :func:`journals`)."""
    path = os.pathsep.join(p for p in (str(FAULTS), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "KILN_TEST_AWS_LOG": str(log)}
    env["KILN_STATE_DIR"] = str(log.parent / "state")
    env.update({f"KILN_TEST_AWS_{name.upper()}": value for name, value in settings.items()})
    return env


def journals(log: Path) -> list[Path]:
    """The journals the runs of :func:`environment` left."""
    return sorted((log.parent / "state" / "journals").glob("*.jsonl"))


def leftovers(before: dict[str, set[str]], ec2: EC2Emulator, log: Path) -> dict[str, list[str]]:
    """What is in the emulator that was not ``before``, by ``region/kind``, and what the
    journals still list (``journal records``)."""
    after = ec2.resources(REGIONS)
    left = {kind: sorted(ids - before[kind]) for kind, ids in after.items()}
    left["journal records"] = [
        x.describe() for journal in journals(log) for x in read_journal(journal).leftovers
    ]
    return left


def clean(
    report: FaultReport,
    point: str,
    result_out: str,
    before: dict[str, set[str]],
    ec2: EC2Emulator,
    log: Path,
) -> None:
    """Nothing is left in any region nor in a journal (recorded as ``point``), and no
    cleanup said it could not clean up."""
    report.check("amazon", point, leftovers(before, ec2, log))
    assert "Error cleaning up" not in result_out, result_out
    assert "yourself" not in result_out, result_out
    assert SECRET not in result_out


def setting_up(
    ec2: EC2Emulator, sshd: SSHServer, tmp_path: Path, point: Point
) -> tuple[Path, Path, dict[str, set[str]]]:
    """The template folder of an injection ``point``, the path of its call log, and
    what the emulator holds before the build."""
    text = template(ec2, sshd, point.body, point.provisioner, point.ssh)
    return write(tmp_path / "t", text), tmp_path / "calls.log", ec2.resources(REGIONS)


@pytest.mark.parametrize("name", CASES)
def test_a_failure_at_each_step_leaves_nothing(
    ec2: EC2Emulator,
    any_key_sshd: SSHServer,
    tmp_path: Path,
    fault_report: FaultReport,
    name: str,
) -> None:
    case = CASES[name]
    folder, log, before = setting_up(ec2, any_key_sshd, tmp_path, case)
    settings = {"fault": case.fault} if case.fault else {}
    result = build(folder, ec2, env=environment(log, **settings))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert case.error in result.stderr, out
    if case.fault:
        assert "InjectedFault" in result.stderr, out
        assert " INJECTED" in log.read_text(), log.read_text()
    assert case.reached in result.stdout, out
    clean(fault_report, f"failure: {name}", out, before, ec2, log)


@dataclass(frozen=True)
class Wait(Point):
    """A build that waits, after printing ``line``, until interrupted (by ``signals``,
    the next one once kiln said it is cleaning up): ``hold`` keeps a ``Describe*``
    answer not ready (``KILN_TEST_AWS_HOLD``), in ``region`` only when one is given."""

    line: str
    hold: str = ""
    region: str = ""
    signals: tuple[signal.Signals, ...] = (signal.SIGINT,)


WAITS = {
    "running": Wait("to become ready...", "DescribeInstances=running"),
    "running, SIGTERM": Wait(
        "to become ready...", "DescribeInstances=running", signals=(signal.SIGTERM,)
    ),
    "spot running": Wait("to become ready...", "DescribeInstances=running", body=SPOT),
    "ssh": Wait(
        "Waiting for SSH to become available",
        ssh={"ssh_port": "CLOSED_PORT", "ssh_timeout": '"5m"'},
    ),
    "provisioning": Wait(
        "Provisioning with shell script",
        provisioner='provisioner "shell" { inline = ["sleep 60"] }',
    ),
    "stopped": Wait("Waiting for the instance to stop...", "DescribeInstances=stopped"),
    "AMI available": Wait("Waiting for AMI to become ready...", "DescribeImages=available"),
    "AMI available, SIGTERM": Wait(
        "Waiting for AMI to become ready...", "DescribeImages=available", signals=(signal.SIGTERM,)
    ),
    "AMI available, interrupted twice": Wait(
        "Waiting for AMI to become ready...",
        "DescribeImages=available",
        signals=(signal.SIGINT, signal.SIGINT),
    ),
    "copy available": Wait(
        "in us-west-2 to become ready...",
        "DescribeImages=available",
        region="us-west-2",
        body=COPIES,
    ),
    "encrypted copy available": Wait(
        "in us-west-2 to become ready...",
        "DescribeImages=available",
        region="us-west-2",
        body='ami_regions = ["us-west-2"]\nencrypt_boot = true\n',
    ),
}


class Lines:
    """A process's output, line by line, read in a thread (so a wait can time out)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, text: str, seconds: float) -> bool:
        """Read until a line holds ``text`` (True), the output ends or time is up."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            self.seen.append(line)
            if text in line:
                return True
        return False

    def rest(self, seconds: float) -> str:
        self.thread.join(seconds)
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)


def held(log: Path, seconds: float = 15, mark: str = " HELD") -> bool:
    """Whether the held wait has seen a rewritten answer, or a call paused (``mark``
    `` PAUSED``), within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and mark in log.read_text():
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def ending(process: subprocess.Popen[str]) -> Iterator[None]:
    """The block; then ``process`` killed, and waited for, if it still runs."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def start(folder: Path, ec2: EC2Emulator, log: Path, **settings: str) -> subprocess.Popen[str]:
    """``kiln build`` of ``folder`` in the background, its faults as :func:`environment`
    says, its output on one pipe."""
    env = {**ec2.env(), **environment(log, **settings), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*KILN, "build", "-color=false", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=folder,
    )


@pytest.mark.parametrize("name", WAITS)
def test_an_interrupt_while_waiting_leaves_nothing(
    ec2: EC2Emulator,
    any_key_sshd: SSHServer,
    tmp_path: Path,
    fault_report: FaultReport,
    name: str,
) -> None:
    wait = WAITS[name]
    folder, log, before = setting_up(ec2, any_key_sshd, tmp_path, wait)
    settings = {"hold": wait.hold, "hold_region": wait.region} if wait.hold else {}
    process = start(folder, ec2, log, **settings)
    with ending(process):
        lines = Lines(process)
        reached = lines.until(wait.line, 60)
        assert reached, lines.rest(1)
        if wait.hold:
            assert held(log), lines.rest(1) + log.read_text()
        else:
            time.sleep(0.5)  # well inside the wait
        assert process.poll() is None, lines.rest(1)
        sent = 0
        for number, signum in enumerate(wait.signals):
            if number:  # the next one while kiln cleans up
                lines.until("Interrupt received", 10)
            if process.poll() is None:
                process.send_signal(signum)
                sent += 1
        code = process.wait(timeout=30)
        out = lines.rest(5)
    assert code == 1, out
    assert "cancelled" in out, out
    if sent > 1:
        assert "Cleanup is in progress" in out, out
    clean(fault_report, f"interrupt: {name}", out, before, ec2, log)


#: calls whose answer is lost after EC2 did the work (``KILN_TEST_AWS_LOSE``), as when
#: the answer times out: what the call made must still be found and removed (by the
#: name kiln gave it, or by the run's tags).
LOST = {
    "key pair": ("CreateKeyPair", ""),
    "security group": ("CreateSecurityGroup", ""),
    "security group ingress": ("AuthorizeSecurityGroupIngress", ""),
    "run instance": ("RunInstances", ""),
    "stop instance": ("StopInstances", ""),
    "create AMI": ("CreateImage", ""),
    "AMI snapshot tags": ("CreateTags:1", ""),
    "copy to a region": ("CopyImage@us-west-2", COPIES),
    "run tags removal": ("DeleteTags@eu-west-1", COPIES),
    "spot launch template": ("CreateLaunchTemplate", SPOT),
    "spot fleet": ("CreateFleet", SPOT),
}


@pytest.mark.parametrize("name", LOST)
def test_a_lost_answer_leaves_nothing(
    ec2: EC2Emulator,
    any_key_sshd: SSHServer,
    tmp_path: Path,
    fault_report: FaultReport,
    name: str,
) -> None:
    lose, body = LOST[name]
    folder, log, before = setting_up(ec2, any_key_sshd, tmp_path, Point(body=body))
    result = build(folder, ec2, env=environment(log, lose=lose))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "InjectedFault" in result.stderr, out
    assert "(answer lost)" in log.read_text()
    clean(fault_report, f"lost answer: {name}", out, before, ec2, log)


@dataclass(frozen=True)
class Kill(Point):
    """A build killed with SIGKILL where it stops: at the EC2 call
    ``pause`` (before it is sent), or ``pause_after`` (EC2 did the work; the answer never
    comes back), in a wait ``hold`` keeps going (in ``region`` only, when given), or
    after printing ``line``; with ``fault`` the build fails first, and is killed while it
    cleans up."""

    pause: str = ""
    pause_after: str = ""
    hold: str = ""
    region: str = ""
    line: str = ""
    fault: str = ""

    def settings(self) -> dict[str, str]:
        values = {
            "pause": self.pause,
            "pause_after": self.pause_after,
            "hold": self.hold,
            "hold_region": self.region,
            "fault": self.fault,
        }
        return {name: value for name, value in values.items() if value}


#: a kill at each step: where a step creates something, once EC2 made it and before the
#: build knows its id (the record names it), else at the step's first call
KILLS = {
    "key pair": Kill(pause_after="CreateKeyPair"),
    "security group": Kill(pause_after="CreateSecurityGroup"),
    "security group ingress": Kill(pause="AuthorizeSecurityGroupIngress"),
    "run instance": Kill(pause_after="RunInstances"),
    "running wait": Kill(hold="DescribeInstances=running"),
    "ssh wait": Kill(
        line="Waiting for SSH to become available",
        ssh={"ssh_port": "CLOSED_PORT", "ssh_timeout": '"5m"'},
    ),
    "provisioning": Kill(
        line="Provisioning with shell script",
        provisioner='provisioner "shell" { inline = ["sleep 60"] }',
    ),
    "stop instance": Kill(pause_after="StopInstances"),
    "stop wait": Kill(hold="DescribeInstances=stopped"),
    "enable ENA": Kill(pause="ModifyInstanceAttribute", body="ena_support = true\n"),
    "force deregister": Kill(pause="DescribeImages:2", body="force_deregister = true\n"),
    "create AMI": Kill(pause_after="CreateImage"),
    "AMI wait": Kill(hold="DescribeImages=available"),
    "AMI snapshot tags": Kill(pause="CreateTags:1"),
    # before the call: moto does not tag a copy as it makes it (AWS does), so a copy
    # whose id never came back could not be told from another image of its name
    "copy to a region": Kill(pause="CopyImage@eu-west-1", body=COPIES),
    "copy wait": Kill(hold="DescribeImages=available", region="us-west-2", body=COPIES),
    "encrypted copy": Kill(pause="CopyImage", body="encrypt_boot = true\n"),
    "deprecate": Kill(
        pause="EnableImageDeprecation", body=f'{COPIES}deprecate_at = "2030-01-01T00:00:00Z"\n'
    ),
    "share AMI": Kill(pause="ModifyImageAttribute", body='ami_users = ["111122223333"]\n'),
    "share snapshots": Kill(
        pause="ModifySnapshotAttribute", body='snapshot_users = ["444455556666"]\n'
    ),
    "tags": Kill(pause="CreateTags:2@us-east-1", body=f'{COPIES}tags = {{ Team = "web" }}\n'),
    # the final AMIs have lost the run's tags: only the journal knows them
    "run tags removal": Kill(pause_after="DeleteTags@eu-west-1", body=COPIES),
    "spot launch template": Kill(pause_after="CreateLaunchTemplate", body=SPOT),
    "spot fleet": Kill(pause_after="CreateFleet", body=SPOT),
    "spot running wait": Kill(hold="DescribeInstances=running", body=SPOT),
    "spot instance tags": Kill(pause="CreateTags:1", body=SPOT),
    # while a failed build cleans up
    # the AMI is deregistered, its snapshot not yet deleted: the record names it
    "cleanup: AMI removal": Kill(fault="CreateTags:1", pause_after="DeregisterImage"),
    "cleanup: terminating": Kill(fault="CreateImage", pause_after="TerminateInstances"),
    "cleanup: security group": Kill(fault="CreateImage", pause="DeleteSecurityGroup"),
    "cleanup: launch template": Kill(fault="CreateImage", pause="DeleteLaunchTemplate", body=SPOT),
}


def reap(
    ec2: EC2Emulator, log: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``kiln reap ARGS`` over the journals of :func:`environment`'s runs, its sweep
    pointed at the emulator (``AWS_ENDPOINT_URL_EC2``)."""
    settings = {
        **ec2.env(),
        "KILN_STATE_DIR": str(log.parent / "state"),
        "AWS_ENDPOINT_URL_EC2": ec2.endpoint,
        **(env or {}),
    }
    return run_kiln("reap", "-color=false", *args, env=settings)


def stopped_there(process: subprocess.Popen[str], log: Path, line: str, mark: str) -> str:
    """Wait until the build is caught (``line`` printed, else ``mark`` in the log: a
    paused call, a held wait), then kill it with SIGKILL; its output."""
    with ending(process):
        lines = Lines(process)
        if line:
            assert lines.until(line, 60), lines.rest(1)
            time.sleep(0.5)  # well inside it
        else:
            caught = held(log, 60, mark)
            assert caught, lines.rest(1) + (log.read_text() if log.exists() else "")
        assert process.poll() is None, lines.rest(1)
        process.kill()
        process.wait(timeout=30)
        return lines.rest(5)


@pytest.mark.parametrize("name", KILLS)
def test_sigkill_at_each_step_then_reap_leaves_nothing(
    ec2: EC2Emulator,
    any_key_sshd: SSHServer,
    tmp_path: Path,
    fault_report: FaultReport,
    name: str,
) -> None:
    kill = KILLS[name]
    folder, log, before = setting_up(ec2, any_key_sshd, tmp_path, kill)
    mark = " HELD" if kill.hold else " PAUSED"
    out = stopped_there(start(folder, ec2, log, **kill.settings()), log, kill.line, mark)
    assert len(journals(log)) == 1, out
    reaped = reap(ec2, log)
    text = reaped.stdout + reaped.stderr
    assert reaped.returncode == 0, text
    assert ", could not remove 0." in text and SECRET not in text
    fault_report.check("amazon", f"SIGKILL+reap: {name}", leftovers(before, ec2, log))
    again = reap(ec2, log)
    assert again.returncode == 0 and "Nothing left behind" in again.stdout, again.stdout


def test_the_emulator_going_away_mid_build_then_reap_leaves_nothing(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path, fault_report: FaultReport
) -> None:
    """EC2 stops answering while the build waits for its AMI: the build fails and its
    cleanup cannot reach EC2; EC2 comes back on the same address (moto's state lives in
    this process) and ``kiln reap`` removes what the build made."""
    log = tmp_path / "calls.log"
    before = ec2.resources(REGIONS)
    with running_ec2() as away:
        port = int(away.endpoint.rsplit(":", 1)[1])
        text = template(away, any_key_sshd, "max_retries = 1\n")
        folder = write(tmp_path / "t", text)
        process = start(folder, away, log, hold="DescribeImages=available")
        lines = Lines(process)
        try:
            assert lines.until("Waiting for AMI to become ready...", 60), lines.rest(1)
            assert held(log), lines.rest(1)
        except BaseException:
            process.kill()
            raise
    with ending(process):
        code = process.wait(timeout=120)
    out = lines.rest(5)
    assert code == 1, out
    assert "Error cleaning up" in out and "'kiln reap' removes them" in out, out
    assert SECRET not in out
    (journal,) = journals(log)
    kinds = sorted(x.kind for x in read_journal(journal).leftovers)
    assert kinds == ["image", "instance", "key-pair", "security-group"], out
    with running_ec2(port) as back:
        reaped = reap(back, log)
        assert reaped.returncode == 0, reaped.stdout + reaped.stderr
        assert "Reaped: removed 4, could not remove 0." in reaped.stdout, reaped.stdout
        fault_report.check("amazon", "EC2 away and back, then reap", leftovers(before, ec2, log))


def test_a_sweep_finds_what_a_killed_run_without_journal_left_by_its_tags(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path, fault_report: FaultReport
) -> None:
    """The journal of a killed build is lost (another machine, a wiped disk): ``kiln
    reap -older-than=0s`` finds the run's resources by its tag, in the environment's
    region and the ones ``KILN_REAP_AWS_REGIONS`` lists."""
    # built in eu-west-1, not the environment's us-east-1, so only the listed region finds it
    point = Point(body=SPOT, ssh={"region": '"eu-west-1"'})
    folder, log, before = setting_up(ec2, any_key_sshd, tmp_path, point)
    stopped_there(start(folder, ec2, log, pause="CreateImage"), log, "", " PAUSED")
    (journal,) = journals(log)
    journal.unlink()

    elsewhere = reap(ec2, log, "-older-than=0s")
    assert elsewhere.returncode == 0 and "Nothing left behind" in elsewhere.stdout
    young = reap(ec2, log, env={"KILN_REAP_AWS_REGIONS": "us-west-2, eu-west-1"})
    assert young.returncode == 0 and "Nothing left behind" in young.stdout, young.stdout

    swept = reap(ec2, log, "-older-than=0s", env={"KILN_REAP_AWS_REGIONS": "us-west-2, eu-west-1"})
    out = swept.stdout + swept.stderr
    assert swept.returncode == 0, out
    assert "of runs with no journal" in out, out
    for kind in ("instance", "launch-template", "security-group", "key-pair"):
        assert f"removed {kind} " in out, out
    assert "(eu-west-1)" in out
    fault_report.check("amazon", "sweep: journal lost", leftovers(before, ec2, log))


def test_a_live_build_is_left_alone_by_a_reap_and_its_sweep(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path, fault_report: FaultReport
) -> None:
    folder, log, before = setting_up(ec2, any_key_sshd, tmp_path, Point())
    process = start(folder, ec2, log, hold="DescribeInstances=running")
    with ending(process):
        lines = Lines(process)
        assert lines.until("to become ready...", 60) and held(log), lines.rest(1)
        during = ec2.resources(REGIONS)
        reaped = reap(ec2, log, "-older-than=0s")
        assert reaped.returncode == 0, reaped.stdout + reaped.stderr
        assert "Left alone: 1 run(s)" in reaped.stdout, reaped.stdout
        assert "removed" not in reaped.stdout
        assert ec2.resources(REGIONS) == during != before
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        out = lines.rest(5)
    assert code == 1, out
    clean(fault_report, "live build beside a reap", out, before, ec2, log)


def test_the_injection_is_off_without_its_variables(tmp_path: Path) -> None:
    """The folder on PYTHONPATH alone changes nothing; without botocore, Python still
    starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_TEST_AWS_")}
    probe = (
        "import sys, sitecustomize, botocore.session\n"
        "assert sitecustomize.__file__.startswith(sys.argv[1]), sitecustomize.__file__\n"
        "assert not sitecustomize._boundary.active()\n"
        "assert botocore.session.Session.create_client.__name__ == 'create_client'\n"
    )
    command = [sys.executable, "-c", probe, str(FAULTS)]
    subprocess.run(command, env={**env, "PYTHONPATH": str(FAULTS)}, check=True, timeout=60)
    hidden = tmp_path / "hidden" / "botocore"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('no botocore here')\n")
    env.update(PYTHONPATH=os.pathsep.join([str(FAULTS), str(hidden.parent)]))
    env.update(KILN_TEST_AWS_FAULT="RunInstances")
    probe = "import sitecustomize; assert sitecustomize._boundary.active(); print('started')"
    started = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert (started.stdout, started.stderr) == ("started\n", "")
