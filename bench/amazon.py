"""amazon-ebs: ``kiln build`` against ``packer build`` (1.6.6) of one template, both
against the same EC2 emulator and the same sshd on loopback.

The benchmark starts moto's EC2 server (the tests' ``tests/ec2.py``, in a thread of this
process) and a loopback sshd (``tests/sshd.py``), imports the sshd's client key into the
emulator as a key pair, and stops both when it ends, measured or failed. The template
builds from one of moto's sample AMIs (t2.micro) with one shell provisioner; "the
instance" is reached through ``ssh_host``/``ssh_port`` on the sshd, with
``ssh_keypair_name`` and ``ssh_private_key_file`` of the imported key (Packer 1.6.6 makes
no ed25519 temporary keys, so both tools use the same imported pair and do the same
work). Both get the emulator's dummy credentials, ``AWS_EC2_METADATA_DISABLED`` and no
AWS config or credentials files (:meth:`tests.ec2.EC2Emulator.env`), and nothing else of
this machine's AWS set-up.

Before every run, untimed, the AMI and the snapshot the last build made are deleted,
after checking that it made exactly one AMI of the template's name, left no instance,
key pair, security group or volume behind, and ran the provisioner. So the name can stay
fixed and every run does the same work on the same emulator state.

After the timed runs, one more build of each tool, untimed, runs with moto's request
recorder on (``/moto-api/recorder/...``): the row's notes give the number of EC2 API
calls each tool makes in a build and the calls that only one of them makes.

The warm-up runs leave kiln's caches as a user's first build does: the parsed template,
and the amazon plugin's EC2 model cut down to the calls it makes (made once per botocore
version, in ``$XDG_CACHE_HOME/kiln``); the timed runs are a user's later builds.

Target: kiln no slower than Packer (ratio ≤ 1.0).
"""

from __future__ import annotations

import base64
import functools
import json
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from common import (
    BenchError,
    Benchmark,
    Options,
    Row,
    build_commands,
    environment,
    median_wall_times,
    run_checked,
)
from tests.ec2 import EC2Emulator, import_key_pair, running_ec2
from tests.sshd import SSHServer, running_sshd

TARGET = 1.0
REGION = "us-east-1"
#: one of moto's sample AMIs in us-east-1 (amzn-ami-hvm-2017.09.1, EBS root /dev/xvda)
SOURCE_AMI = "ami-760aaa0f"
AMI_NAME = "kiln-bench-amazon-ebs"
KEY_PAIR = "kiln-bench"

TEMPLATE = """
source "amazon-ebs" "bench" {{
  region                     = "{region}"
  custom_endpoint_ec2        = "{endpoint}"
  skip_credential_validation = true
  skip_metadata_api_check    = true
  source_ami                 = "{source_ami}"
  instance_type              = "t2.micro"
  ami_name                   = "{ami_name}"
  ssh_host                   = "{host}"
  ssh_port                   = {port}
  ssh_username               = "{user}"
  ssh_keypair_name           = "{key_pair}"
  ssh_private_key_file       = "{key}"
}}

build {{
  sources = ["source.amazon-ebs.bench"]

  provisioner "shell" {{
    inline = ["echo provisioning on $(hostname)", "uname -sr > {marker}"]
  }}
}}
"""


@dataclass(frozen=True)
class _Bed:
    """What a run needs: the emulator, the template and its folder."""

    emulator: EC2Emulator
    folder: Path
    template: Path
    marker: Path  # the file the provisioner writes


@contextmanager
def ec2_and_sshd(
    prefix: str, sshd: Callable[[Path], AbstractContextManager[SSHServer]] = running_sshd
) -> Iterator[tuple[Path, EC2Emulator, SSHServer]]:
    """A work folder, moto's EC2 server and ``sshd`` (tests.sshd's, or tests.ec2's that
    accepts any key) on loopback, until the block ends; BenchError when one cannot run."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp)
        (folder / "sshd").mkdir()
        try:
            with running_ec2() as emulator, sshd(folder / "sshd") as server:
                yield folder, emulator, server
        except ImportError as exc:  # moto is missing
            raise BenchError(f"{exc}: run scripts/bootstrap test (moto, boto3)") from None
        except RuntimeError as exc:  # sshd is missing, did not start, or needs root
            raise BenchError(str(exc)) from None


@contextmanager
def _bed() -> Iterator[_Bed]:
    """An EC2 emulator and an sshd on loopback, the sshd's client key imported into the
    emulator, and the template; the servers are stopped when the block ends."""
    with ec2_and_sshd("kiln-bench-amazon-") as (folder, emulator, server):
        import_key_pair(emulator.client(REGION), KEY_PAIR, server.public_key)
        marker = folder / "provisioned"
        template = folder / "bench.pkr.hcl"
        template.write_text(
            TEMPLATE.format(
                region=REGION,
                endpoint=emulator.endpoint,
                source_ami=SOURCE_AMI,
                ami_name=AMI_NAME,
                host=server.host,
                port=server.port,
                user=server.user,
                key_pair=KEY_PAIR,
                key=server.private_key_file,
                marker=marker,
            )
        )
        yield _Bed(emulator, folder, template, marker)


class _RemoveBuilt:
    """Run untimed before every build: checks that the last build made one AMI named
    :data:`AMI_NAME`, left nothing else behind and ran the provisioner, then deletes the
    AMI and its snapshots."""

    def __init__(self, bed: _Bed) -> None:
        self.bed = bed
        self.client = bed.emulator.client(REGION)
        self.baseline = bed.emulator.resources([REGION])
        self.first = True

    def __call__(self) -> None:
        now = self.bed.emulator.resources([REGION])
        images = now["images"] - self.baseline["images"]
        snapshots = now["snapshots"] - self.baseline["snapshots"]
        others = {kind: ids for kind, ids in now.items() if kind not in ("images", "snapshots")}
        expected = {k: ids for k, ids in self.baseline.items() if k not in ("images", "snapshots")}
        if others != expected:
            left = {kind: sorted(ids - expected[kind]) for kind, ids in others.items()}
            raise BenchError(f"a build left resources behind: {left}")
        if not self.first:
            if len(images) != 1:
                raise BenchError(f"a build made {len(images)} AMIs, not 1")
            (image,) = self.client.describe_images(ImageIds=sorted(images))["Images"]
            if image["Name"] != AMI_NAME:
                raise BenchError(f"a build made the AMI {image['Name']!r}, not {AMI_NAME!r}")
            if not self.bed.marker.exists():
                raise BenchError("a build did not run its shell provisioner")
        self.first = False
        for image_id in sorted(images):
            self.client.deregister_image(ImageId=image_id)
        for snapshot_id in sorted(snapshots):
            self.client.delete_snapshot(SnapshotId=snapshot_id)
        self.bed.marker.unlink(missing_ok=True)


class _Recorder:
    """moto's request recorder, driven through the server's ``/moto-api/recorder/``
    endpoints; it writes the requests to ``path``."""

    def __init__(self, endpoint: str, path: Path) -> None:
        from moto.moto_api import recorder

        # the server runs in this process; by default its recording would be
        # ./moto_recording, in the checkout (MOTO_RECORDER_FILEPATH is read at import)
        if not hasattr(recorder, "_location"):
            raise BenchError("moto's recorder has no _location: cannot count the EC2 calls")
        recorder._location = str(path)
        self.endpoint = endpoint

    def _call(self, what: str) -> str:
        url = f"{self.endpoint}/moto-api/recorder/{what}"
        request = urllib.request.Request(url, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            text: str = response.read().decode()
            return text

    def actions(self, work: Callable[[], object]) -> list[str]:
        """The EC2 actions (``Action=`` of each query request) made during ``work()``,
        in order; a request without one is listed as ``METHOD URL``."""
        self._call("reset-recording")
        self._call("start-recording")
        try:
            work()
        finally:
            self._call("stop-recording")
        found = []
        for line in self._call("download-recording").splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode()
            action = parse_qs(body).get("Action")
            found.append(action[0] if action else f"{entry['method']} {entry['url']}")
        return found


def _difference(mine: Counter[str], theirs: Counter[str]) -> str:
    """The calls of ``mine`` beyond ``theirs``: ``CreateTags, DescribeImages ×2``."""
    extra = mine - theirs
    if not extra:
        return "none"
    return ", ".join(
        name if count == 1 else f"{name} ×{count}" for name, count in sorted(extra.items())
    )


def amazon_ebs_build(options: Options) -> list[Row]:
    with _bed() as bed:
        env = bed.emulator.env()
        commands = build_commands(bed.template)
        reset = _RemoveBuilt(bed)
        # the host's AWS variables, which EC2Emulator.env drops, stay out
        with environment(env):
            kiln, packer = median_wall_times(commands, options, cwd=bed.folder, reset=reset)
            recorder = _Recorder(bed.emulator.endpoint, bed.folder / "recording.jsonl")
            calls = []
            for argv in commands:
                reset()  # also checks the last run
                calls.append(recorder.actions(functools.partial(run_checked, argv, bed.folder)))
            reset()
    kiln_calls, packer_calls = Counter(calls[0]), Counter(calls[1])
    row = Row("build amazon-ebs (EC2 emulator)", kiln, packer, TARGET)
    row.notes.append(
        f"moto's EC2 server + loopback sshd; {SOURCE_AMI}, t2.micro, 1 shell provisioner"
    )
    row.notes.append(
        f"EC2 API calls per build: kiln {len(calls[0])}, packer {len(calls[1])}; "
        f"only kiln: {_difference(kiln_calls, packer_calls)}; "
        f"only packer: {_difference(packer_calls, kiln_calls)}"
    )
    return [row]


BENCHMARKS = [
    Benchmark(
        "amazon-ebs-build",
        "kiln vs packer build of one amazon-ebs template against moto's EC2 server",
        amazon_ebs_build,
    ),
]
