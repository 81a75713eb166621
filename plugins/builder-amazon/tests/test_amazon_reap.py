"""The amazon reaper (``kiln reap``): it removes each kind a build records, counts what is
already gone as removed, signs with the environment's credentials only, and its sweep
finds what carries a run's tag, never a live run's, a young one's or a kept AMI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_amazon_build import REGIONS, amis, build, ok, source_folder
from tests.conftest import run_kiln
from tests.ec2 import EC2Emulator
from tests.sshd import SSHServer

from kiln.sdk import BuildError, Context, Leftover
from kiln.testing import MockUi
from kiln_plugin_amazon import reaper
from kiln_plugin_amazon.reaper import CREATED_TAG, AmazonReaper

RUN = "0b1c2d3e-run"
TAGS = [{"Key": "kiln_run_uuid", "Value": RUN}, {"Key": "kiln_build", "Value": "web"}]


@pytest.fixture
def aws_env(ec2: EC2Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[EC2Emulator]:
    """This process's environment as ``kiln reap``'s would be: the emulator's dummy
    credentials and region, its address in ``AWS_ENDPOINT_URL_EC2``; fresh clients."""
    for name, value in ec2.env({}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", ec2.endpoint)
    monkeypatch.delenv("KILN_REAP_AWS_REGIONS", raising=False)
    monkeypatch.setattr(reaper, "_sessions", {})
    monkeypatch.setattr(reaper, "_clients", {})
    yield ec2


def remove(kind: str, **details: object) -> None:
    leftover = Leftover(RUN, "amazon-ebs.web", "amazon", kind, {"region": "us-east-1", **details})
    AmazonReaper(MockUi(), Context()).remove(leftover)


def tagged(extra: dict[str, str] | None = None) -> list[dict[str, object]]:
    tags = [*TAGS, *({"Key": k, "Value": v} for k, v in (extra or {}).items())]
    return [{"ResourceType": kind, "Tags": tags} for kind in ("instance", "volume")]


def test_each_kind_is_removed_and_again_is_harmless(aws_env: EC2Emulator) -> None:
    client = aws_env.client()
    before = aws_env.resources()
    client.create_key_pair(KeyName="kiln_k")
    group = client.create_security_group(GroupName="kiln_g", Description="d")["GroupId"]
    client.create_launch_template(LaunchTemplateName="kiln_t", LaunchTemplateData={})
    instance = client.run_instances(
        ImageId="ami-760aaa0f",
        MinCount=1,
        MaxCount=1,
        SecurityGroupIds=[group],
        TagSpecifications=tagged(),
    )["Instances"][0]["InstanceId"]
    image = client.create_image(InstanceId=instance, Name="kiln-image")["ImageId"]
    snapshots = [
        b["Ebs"]["SnapshotId"]
        for b in client.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"]
    ]
    volume = client.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    for _ in range(2):
        remove("image", id=image, snapshots=snapshots)
        remove("instance")  # its id never came back: found by the run's tag
        remove("launch-template", name="kiln_t")
        remove("volume", id=volume)
        remove("security-group", name="kiln_g")
        remove("key-pair", name="kiln_k")
    assert aws_env.resources() == before


def test_an_image_already_deregistered_loses_its_recorded_snapshots(
    aws_env: EC2Emulator,
) -> None:
    client = aws_env.client()
    before = aws_env.resources()
    instance = client.run_instances(ImageId="ami-760aaa0f", MinCount=1, MaxCount=1)
    instance_id = instance["Instances"][0]["InstanceId"]
    image = client.create_image(InstanceId=instance_id, Name="kiln-image")["ImageId"]
    found = client.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"]
    client.deregister_image(ImageId=image)
    remove("image", id=image, snapshots=[b["Ebs"]["SnapshotId"] for b in found])
    remove("instance", id=instance_id)
    assert aws_env.resources() == before


def test_without_credentials_the_reaper_says_where_it_looks(
    aws_env: EC2Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(BuildError, match="environment's credential chain") as info:
        remove("key-pair", name="kiln_k")
    assert "never with a template's access_key" in str(info.value)
    # and the sweep, with nothing to sign with, looks nowhere
    assert list(AmazonReaper(MockUi(), Context()).sweep(set(), 0)) == []


def test_the_sweep_skips_live_young_and_untimed_resources(aws_env: EC2Emulator) -> None:
    client = aws_env.client()
    old, young = "2001-01-01T00:00:00Z", "2999-01-01T00:00:00Z"

    def group(name: str, run: str, created: str | None) -> str:
        tags = [{"Key": "kiln_run_uuid", "Value": run}]
        if created:
            tags.append({"Key": CREATED_TAG, "Value": created})
        spec = [{"ResourceType": "security-group", "Tags": tags}]
        return str(
            client.create_security_group(GroupName=name, Description="d", TagSpecifications=spec)[
                "GroupId"
            ]
        )

    lost = group("lost", "lost-run", old)
    group("live", "live-run", old)
    group("young", "young-run", young)
    group("untimed", "untimed-run", None)
    found = list(AmazonReaper(MockUi(), Context()).sweep({"live-run"}, 3600))
    assert [(x.run, x.kind, x.details["id"]) for x in found] == [
        ("lost-run", "security-group", lost)
    ]
    assert found[0].details["region"] == "us-east-1"


def test_a_finished_build_leaves_no_journal_and_nothing_to_sweep(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    """Its AMIs (in every region) and the volume it keeps lose the run's tags: a sweep
    finds nothing, however old."""
    body = """
    ami_name    = "kiln-reap-kept"
    source_ami  = "ami-760aaa0f"
    ami_regions = ["us-west-2"]
    launch_block_device_mappings {
      device_name           = "/dev/sdf"
      volume_size           = 2
      delete_on_termination = false
    }
    """
    folder = source_folder(tmp_path, ec2, any_key_sshd, body)
    state = tmp_path / "state"
    made = amis(ok(build(folder, ec2, env={"KILN_STATE_DIR": str(state)})))
    assert list(state.glob("journals/*")) == []
    (volume,) = ec2.client().describe_volumes()["Volumes"]
    assert not [t for t in volume.get("Tags", []) if t["Key"].startswith("kiln_")]
    everything = ec2.resources(REGIONS)
    env = {
        **ec2.env(),
        "KILN_STATE_DIR": str(state),
        "AWS_ENDPOINT_URL_EC2": ec2.endpoint,
        "KILN_REAP_AWS_REGIONS": ",".join(REGIONS),
    }
    reaped = run_kiln("reap", "-older-than=0s", env=env)
    assert reaped.returncode == 0, reaped.stdout + reaped.stderr
    assert "Nothing left behind" in reaped.stdout, reaped.stdout
    assert ec2.resources(REGIONS) == everything
    assert set(made) == {"us-east-1", "us-west-2"}


def test_an_instance_whose_id_never_came_back_is_found_by_its_build_too(
    aws_env: EC2Emulator,
) -> None:
    """Two builds of one run: the record of the one whose id never came back ends that
    build's instance only (the other's volumes are kept or not by its own record)."""
    client = aws_env.client()

    def launch(build: str) -> str:
        tags = [{"Key": "kiln_run_uuid", "Value": RUN}, {"Key": "kiln_build", "Value": build}]
        return str(
            client.run_instances(
                ImageId="ami-760aaa0f",
                MinCount=1,
                MaxCount=1,
                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            )["Instances"][0]["InstanceId"]
        )

    web, db = launch("web"), launch("db")
    remove("instance", build_name="web")
    found = client.describe_instances(InstanceIds=[web, db])["Reservations"]
    states = {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}
    assert states == {web: "terminated", db: "running"}
