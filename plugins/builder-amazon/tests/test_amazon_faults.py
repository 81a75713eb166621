"""amazon-ebs fails or is interrupted at every step and leaves nothing behind.

A real ``kiln build`` runs against moto's EC2 server; the faults are injected at the AWS
client boundary of that subprocess (``faults/sitecustomize.py``, on its ``PYTHONPATH``):
one EC2 call fails with ``InjectedFault`` before it is sent, or after EC2 did the work
(a lost answer), or the answers of a wait's ``Describe*`` call are rewritten so the wait
never ends and the build is interrupted there (SIGINT, SIGTERM). Every way, the build
must fail, say why, and leave the emulator's resources as they were before it:
instances not terminated, key pairs, security groups, launch templates, AMIs,
snapshots and volumes, in every region it touched.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from test_amazon_build import REGIONS, SECRET, build, build_block, source, write
from tests.conftest import KILN
from tests.ec2 import EC2Emulator
from tests.sshd import SSHServer

#: the folder whose sitecustomize.py injects the faults into a kiln subprocess
FAULTS = Path(__file__).parent / "faults"
BASE = 'source_ami = "ami-760aaa0f"\nami_name = "kiln-faults"\n'
SPOT = 'spot_price = "auto"\n'
COPIES = 'ami_regions = ["us-west-2", "eu-west-1"]\n'


@dataclass(frozen=True)
class Case:
    """A build with ``body`` in its source, and ``KILN_TEST_AWS_FAULT=fault``: it must
    fail saying ``error`` (``InjectedFault`` too, when there is a fault), after the step
    reached printed ``reached``."""

    fault: str
    error: str
    body: str = ""
    reached: str = ""
    provisioner: str = 'provisioner "shell" { inline = ["true"] }'
    ssh: dict[str, str] = field(default_factory=dict)


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
    "tags": Case("CreateTags:2", "Cannot tag the AMI", body=f'{COPIES}tags = {{ Team = "web" }}\n'),
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


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def template(
    ec2: EC2Emulator,
    sshd: SSHServer,
    body: str,
    provisioner: str = 'provisioner "shell" { inline = ["true"] }',
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
        value = value.replace("CLOSED_PORT", str(closed_port()))
        text, count = re.subn(rf"(?m)^(\s*{name}\s*=).*$", rf"\g<1> {value}", text)
        assert count == 1, name
    return text + build_block(provisioner)


def environment(log: Path, **settings: str) -> dict[str, str]:
    """What a kiln subprocess needs on top of the emulator's environment for the
    injection: ``settings`` are the ``KILN_TEST_AWS_*`` variables, lower-cased."""
    path = os.pathsep.join(p for p in (str(FAULTS), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "KILN_TEST_AWS_LOG": str(log)}
    env.update({f"KILN_TEST_AWS_{name.upper()}": value for name, value in settings.items()})
    return env


def clean(result_out: str, before: dict[str, set[str]], ec2: EC2Emulator) -> None:
    """Nothing is left in any region, and no cleanup said it could not clean up."""
    assert "Error cleaning up" not in result_out, result_out
    assert "yourself" not in result_out, result_out
    assert SECRET not in result_out
    after = ec2.resources(REGIONS)
    left = {kind: sorted(ids - before[kind]) for kind, ids in after.items() if ids - before[kind]}
    assert not left, f"left behind: {left}"
    assert after == before


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_failure_at_each_step_leaves_nothing(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path, case: Case
) -> None:
    folder = write(
        tmp_path / "t", template(ec2, any_key_sshd, case.body, case.provisioner, case.ssh)
    )
    log = tmp_path / "calls.log"
    before = ec2.resources(REGIONS)
    settings = {"fault": case.fault} if case.fault else {}
    result = build(folder, ec2, env=environment(log, **settings))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert case.error in result.stderr, out
    if case.fault:
        assert "InjectedFault" in result.stderr, out
        assert " INJECTED" in log.read_text(), log.read_text()
    assert case.reached in result.stdout, out
    clean(out, before, ec2)


@dataclass(frozen=True)
class Wait:
    """A build with ``body`` that waits, after printing ``line``, until interrupted
    (by ``signals``, the next one once kiln said it is cleaning up): ``hold`` keeps a
    ``Describe*`` answer not ready (``KILN_TEST_AWS_HOLD``), in ``region`` only when one
    is given."""

    line: str
    hold: str = ""
    region: str = ""
    body: str = ""
    provisioner: str = 'provisioner "shell" { inline = ["true"] }'
    ssh: dict[str, str] = field(default_factory=dict)
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


def held(log: Path, seconds: float = 15) -> bool:
    """Whether the held wait has seen a rewritten answer (within ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and " HELD" in log.read_text():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("wait", WAITS.values(), ids=WAITS.keys())
def test_an_interrupt_while_waiting_leaves_nothing(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path, wait: Wait
) -> None:
    text = template(ec2, any_key_sshd, wait.body, wait.provisioner, wait.ssh)
    folder = write(tmp_path / "t", text)
    log = tmp_path / "calls.log"
    settings = {"hold": wait.hold, "hold_region": wait.region} if wait.hold else {}
    env = {**ec2.env(), **environment(log, **settings), "PYTHONUNBUFFERED": "1"}
    before = ec2.resources(REGIONS)
    process = subprocess.Popen(
        [*KILN, "build", "-color=false", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=folder,
    )
    try:
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
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 1, out
    assert "cancelled" in out, out
    if sent > 1:
        assert "Cleanup is in progress" in out, out
    clean(out, before, ec2)


#: calls whose answer is lost after EC2 did the work (``KILN_TEST_AWS_LOSE``), as when
#: the answer times out: what the call made must still be found and removed (by the
#: name kiln gave it, or by the run's tags).
LOST = {
    "key pair": pytest.param("CreateKeyPair", ""),
    "security group": pytest.param("CreateSecurityGroup", ""),
    "security group ingress": pytest.param("AuthorizeSecurityGroupIngress", ""),
    "run instance": pytest.param("RunInstances", ""),
    "stop instance": pytest.param("StopInstances", ""),
    "create AMI": pytest.param("CreateImage", ""),
    "AMI snapshot tags": pytest.param("CreateTags:1", ""),
    "copy to a region": pytest.param("CopyImage@us-west-2", COPIES),
    "run tags removal": pytest.param("DeleteTags@eu-west-1", COPIES),
    "spot launch template": pytest.param("CreateLaunchTemplate", SPOT),
    "spot fleet": pytest.param("CreateFleet", SPOT),
}


@pytest.mark.parametrize(("lose", "body"), LOST.values(), ids=LOST.keys())
def test_a_lost_answer_leaves_nothing(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path, lose: str, body: str
) -> None:
    folder = write(tmp_path / "t", template(ec2, any_key_sshd, body))
    log = tmp_path / "calls.log"
    before = ec2.resources(REGIONS)
    result = build(folder, ec2, env=environment(log, lose=lose))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "InjectedFault" in result.stderr, out
    assert "(answer lost)" in log.read_text()
    clean(out, before, ec2)


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
