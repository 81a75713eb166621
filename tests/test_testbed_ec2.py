"""The amazon plugin's test bed works: the EC2 emulator (tests/ec2.py) answers like EC2
where a build needs it, its resource sets show what is left behind, reset() wipes it, and
the any-key sshd lets in a key pair the emulator generated."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tests.ec2 import (
    ANY_KEY_COMMAND,
    ANY_KEY_SCRIPT,
    EC2Emulator,
    import_key_pair,
    install_any_key_command,
    running_ec2,
)
from tests.sshd import SSHServer

SAMPLE_AMI = "ami-760aaa0f"  # amzn-ami-hvm-2017.09.1.20171103-x86_64-gp2, in every region
KINDS = {
    "instances",
    "key_pairs",
    "security_groups",
    "launch_templates",
    "images",
    "snapshots",
    "volumes",
}


def ssh_echo(server: SSHServer, key_file: Path | str) -> subprocess.CompletedProcess[str]:
    """``ssh -i KEY USER@127.0.0.1 echo ok`` against ``server``, with nothing else to try."""
    return subprocess.run(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(key_file),
            "-p",
            str(server.port),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            f"{server.user}@{server.host}",
            "echo",
            "ok",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def write_private_key(path: Path, material: str) -> Path:
    path.write_text(material if material.endswith("\n") else material + "\n")
    path.chmod(0o600)
    return path


def test_sample_amis_are_there_and_filter_by_name(ec2: EC2Emulator) -> None:
    client = ec2.client()
    images = client.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn-ami-hvm-2017.09.1.*"]}]
    )["Images"]
    assert SAMPLE_AMI in {image["ImageId"] for image in images}
    assert all(image["Name"].startswith("amzn-ami-hvm-2017.09.1.") for image in images)
    assert client.describe_images(Owners=["self"])["Images"] == []
    # the same sample AMIs in another region
    west = ec2.client("us-west-2").describe_images(ImageIds=[SAMPLE_AMI])["Images"]
    assert west[0]["State"] == "available"


def test_resources_show_an_instance_until_it_is_terminated(ec2: EC2Emulator) -> None:
    client = ec2.client()
    before = ec2.resources()
    assert set(before) == KINDS
    assert all(ids == set() for ids in before.values())  # sample AMIs' snapshots are not ours

    client.create_key_pair(KeyName="packer_temp", KeyType="ed25519")
    group = client.create_security_group(GroupName="packer_temp", Description="temporary")
    reservation = client.run_instances(
        ImageId=SAMPLE_AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        KeyName="packer_temp",
        SecurityGroupIds=[group["GroupId"]],
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    client.get_waiter("instance_running").wait(
        InstanceIds=[instance_id], WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    during = ec2.resources()
    assert during["instances"] == {instance_id}
    assert during["key_pairs"] == {"packer_temp"}
    assert during["security_groups"] == {group["GroupId"]}
    assert len(during["volumes"]) == 1  # the root volume, DeleteOnTermination

    client.terminate_instances(InstanceIds=[instance_id])
    client.get_waiter("instance_terminated").wait(
        InstanceIds=[instance_id], WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    after_terminate = ec2.resources()
    assert after_terminate["instances"] == set()
    assert after_terminate["volumes"] == set()  # moto deleted the root volume with it
    client.delete_key_pair(KeyName="packer_temp")
    client.delete_security_group(GroupId=group["GroupId"])
    assert ec2.resources() == before


def test_a_volume_kept_on_termination_is_a_leak(ec2: EC2Emulator) -> None:
    client = ec2.client()
    before = ec2.resources()
    instance_id = client.run_instances(
        ImageId=SAMPLE_AMI,
        MinCount=1,
        MaxCount=1,
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 10, "DeleteOnTermination": True}},
            {"DeviceName": "/dev/xvdf", "Ebs": {"VolumeSize": 5, "DeleteOnTermination": False}},
        ],
    )["Instances"][0]["InstanceId"]
    assert len(ec2.resources()["volumes"]) == 2  # exactly the mappings, no extra root
    client.terminate_instances(InstanceIds=[instance_id])
    left = ec2.resources()["volumes"]
    assert len(left) == 1
    volume = client.describe_volumes(VolumeIds=list(left))["Volumes"][0]
    assert (volume["Size"], volume["State"]) == (5, "available")
    client.delete_volume(VolumeId=volume["VolumeId"])
    assert ec2.resources() == before


def test_images_and_their_snapshots_are_the_accounts(ec2: EC2Emulator) -> None:
    client = ec2.client()
    instance_id = client.run_instances(ImageId=SAMPLE_AMI, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    client.stop_instances(InstanceIds=[instance_id])
    client.get_waiter("instance_stopped").wait(
        InstanceIds=[instance_id], WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    before = ec2.resources()
    image_id = client.create_image(InstanceId=instance_id, Name="kiln-testbed-image")["ImageId"]
    client.get_waiter("image_available").wait(
        ImageIds=[image_id], WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    made = ec2.resources()
    assert made["images"] == {image_id}
    (snapshot_id,) = made["snapshots"]
    image = client.describe_images(ImageIds=[image_id])["Images"][0]
    assert image["OwnerId"] == ec2.account_id
    assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == snapshot_id

    # DeregisterImage leaves the snapshot behind, as on AWS; it is deleted on its own
    client.deregister_image(ImageId=image_id)
    assert ec2.resources()["images"] == set()
    assert ec2.resources()["snapshots"] == {snapshot_id}
    client.delete_snapshot(SnapshotId=snapshot_id)
    assert ec2.resources() == before
    client.terminate_instances(InstanceIds=[instance_id])


def test_resources_in_several_regions_name_the_region(ec2: EC2Emulator) -> None:
    regions = ("us-east-1", "us-west-2")
    before = ec2.resources(regions)
    assert set(before) == {f"{region}/{kind}" for region in regions for kind in KINDS}
    source = ec2.client().run_instances(ImageId=SAMPLE_AMI, MinCount=1, MaxCount=1)
    instance_id = source["Instances"][0]["InstanceId"]
    image_id = ec2.client().create_image(InstanceId=instance_id, Name="kiln-testbed-copy")[
        "ImageId"
    ]
    copy_id = ec2.client("us-west-2").copy_image(
        SourceImageId=image_id, SourceRegion="us-east-1", Name="kiln-testbed-copy"
    )["ImageId"]
    after = ec2.resources(regions)
    assert after["us-east-1/images"] == {image_id}
    assert after["us-west-2/images"] == {copy_id}
    assert len(after["us-west-2/snapshots"]) == 1  # CopyImage makes the copy's snapshot


def test_reset_wipes_everything_but_the_samples(ec2: EC2Emulator) -> None:
    client = ec2.client()
    empty = ec2.resources()
    client.create_key_pair(KeyName="left-behind")
    client.run_instances(ImageId=SAMPLE_AMI, MinCount=1, MaxCount=1)
    assert ec2.resources() != empty
    ec2.reset()
    assert ec2.resources() == empty
    assert client.describe_images(ImageIds=[SAMPLE_AMI])["Images"]


def test_env_points_a_subprocess_at_the_dummy_account(ec2_emulator: EC2Emulator) -> None:
    ec2 = ec2_emulator
    env = ec2.env({"PATH": "/usr/bin", "AWS_PROFILE": "work", "AWS_SESSION_TOKEN": "x"})
    assert env["PATH"] == "/usr/bin"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert ec2.endpoint.startswith("http://127.0.0.1:")


def test_running_ec2_on_a_busy_port_says_so() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}"), running_ec2(port):
            pass


def test_any_key_command_is_root_owned_and_idempotent(any_key_sshd: SSHServer) -> None:
    install_any_key_command()  # again: nothing to do
    info = ANY_KEY_COMMAND.stat()
    assert ANY_KEY_COMMAND.read_text() == ANY_KEY_SCRIPT
    assert stat.S_IMODE(info.st_mode) == 0o755 and info.st_uid == 0
    folder = ANY_KEY_COMMAND.parent.stat()
    assert folder.st_uid == 0 and not folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize("key_type", ["ed25519", "rsa"])
def test_a_key_pair_the_emulator_made_logs_in_to_the_any_key_sshd(
    ec2: EC2Emulator, any_key_sshd: SSHServer, sshd: SSHServer, tmp_path: Path, key_type: str
) -> None:
    made = ec2.client().create_key_pair(KeyName=f"packer_{key_type}", KeyType=key_type)
    key = write_private_key(tmp_path / "key.pem", made["KeyMaterial"])
    login = ssh_echo(any_key_sshd, key)
    assert (login.returncode, login.stdout) == (0, "ok\n"), login.stderr
    # the ordinary sshd knows only its own client key
    refused = ssh_echo(sshd, key)
    assert refused.returncode == 255 and "Permission denied" in refused.stderr


def test_an_imported_key_pair_is_the_one_offered(ec2: EC2Emulator, any_key_sshd: SSHServer) -> None:
    client = ec2.client()
    key_pair_id = import_key_pair(client, "packer-imported", any_key_sshd.public_key)
    (pair,) = client.describe_key_pairs(KeyNames=["packer-imported"])["KeyPairs"]
    assert pair["KeyPairId"] == key_pair_id
    assert os.path.exists(any_key_sshd.private_key_file)
    login = ssh_echo(any_key_sshd, any_key_sshd.private_key_file)
    assert (login.returncode, login.stdout) == (0, "ok\n"), login.stderr
