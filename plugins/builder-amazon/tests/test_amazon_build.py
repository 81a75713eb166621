"""amazon-ebs end to end: ``kiln build`` against moto's EC2 server, with "the instance"
reached over SSH on a loopback sshd that accepts the key pair the emulator made."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import run_kiln
from tests.ec2 import EC2Emulator
from tests.sshd import SSHServer

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
SECRET = "kiln-secret-key-0123456789"


def source(ec2: EC2Emulator, sshd: SSHServer, body: str = "", name: str = "web") -> str:
    """An amazon-ebs source that reaches the emulator and the loopback sshd."""
    return f"""
source "amazon-ebs" "{name}" {{
  region                     = "us-east-1"
  custom_endpoint_ec2        = "{ec2.endpoint}"
  access_key                 = "AKIDKILNTEST"
  secret_key                 = "{SECRET}"
  skip_credential_validation = true
  instance_type              = "t3.micro"
  ssh_host                   = "127.0.0.1"
  ssh_port                   = {sshd.port}
  ssh_username               = "{sshd.user}"
  ssh_timeout                = "20s"
  temporary_security_group_source_cidrs = ["127.0.0.1/32"]
{textwrap.indent(textwrap.dedent(body).strip(), "  ")}
}}
"""


def build_block(body: str = "") -> str:
    """The build of the one source ``source()`` writes, with ``body`` in it."""
    inside = f"  {body}\n" if body else ""
    return f'build {{\n  sources = ["source.amazon-ebs.web"]\n{inside}}}\n'


def build(
    folder: Path, ec2: EC2Emulator, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_kiln(
        "build", "-color=false", *args, str(folder), env={**ec2.env(), **(env or {})}, cwd=folder
    )


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "build.pkr.hcl").write_text(text)
    return folder


def source_folder(
    tmp_path: Path, ec2: EC2Emulator, sshd: SSHServer, body: str, inside: str = ""
) -> Path:
    """``tmp_path/t`` holding the source ``source()`` writes with ``body``, and its build
    with ``inside``."""
    return write(tmp_path / "t", source(ec2, sshd, body) + build_block(inside))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    return result.stdout


def amis(out: str) -> dict[str, str]:
    """The region: ami lines of the printed artifact."""
    found = {}
    for line in out.split("AMIs were created:")[-1].splitlines():
        region, _, ami = line.partition(": ")
        if ami.startswith("ami-"):
            found[region.strip()] = ami.strip()
    return found


def image(ec2: EC2Emulator, region: str, ami: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.client(region).describe_images(ImageIds=[ami])["Images"][0]
    return found


def tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def test_a_full_build(ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "motd").write_text("built by kiln\n")
    remote = tmp_path / "remote"
    before = ec2.resources(REGIONS)
    write(
        folder,
        source(
            ec2,
            any_key_sshd,
            """
            source_ami_filter {
              filters     = { name = "amzn-ami-*", root-device-type = "ebs" }
              owners      = ["amazon"]
              most_recent = true
            }
            ami_name        = "kiln-full-build"
            ami_description = "from {{.SourceAMIName}}"
            ami_regions     = ["us-west-2", "eu-west-1"]
            ami_users       = ["111122223333"]
            ami_groups      = ["all"]
            snapshot_users  = ["444455556666"]
            tags            = { Team = "web", Base = "{{.SourceAMI}}" }
            snapshot_tags   = { Kind = "root" }
            run_tags        = { Purpose = "ci" }
            """,
        )
        + f"""
build {{
  sources = ["source.amazon-ebs.web"]
  provisioner "shell" {{
    inline = ["mkdir -p {remote}", "echo region=${{build.BuildRegion}} > {remote}/info"]
  }}
  provisioner "file" {{
    source      = "motd"
    destination = "{remote}/motd"
  }}
}}
""",
    )
    out = ok(build(folder, ec2))
    assert (remote / "motd").read_text() == "built by kiln\n"
    assert (remote / "info").read_text() == "region=us-east-1\n"
    made = amis(out)
    assert set(made) == set(REGIONS)
    for region, ami in made.items():
        found = image(ec2, region, ami)
        assert found["Name"] == "kiln-full-build"
        assert tags(found)["Team"] == "web"
        assert tags(found)["Base"].startswith("ami-")
        assert not {"kiln_run_uuid", "kiln_build"} & set(tags(found))  # no longer temporary
        client = ec2.client(region)
        permissions = client.describe_image_attribute(ImageId=ami, Attribute="launchPermission")[
            "LaunchPermissions"
        ]
        assert {"UserId": "111122223333"} in permissions and {"Group": "all"} in permissions
        snapshots = [b["Ebs"]["SnapshotId"] for b in found["BlockDeviceMappings"] if "Ebs" in b]
        for snapshot in snapshots:
            snap = client.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
            assert tags(snap)["Kind"] == "root" and tags(snap)["Team"] == "web"
            volume_permissions = client.describe_snapshot_attribute(
                SnapshotId=snapshot, Attribute="createVolumePermission"
            )["CreateVolumePermissions"]
            assert {"UserId": "444455556666"} in volume_permissions
    # what is left is exactly the three AMIs and their snapshots
    after = ec2.resources(REGIONS)
    new = {kind: after[kind] - before.get(kind, set()) for kind in after}
    assert {kind: ids for kind, ids in new.items() if ids} == {
        f"{region}/{kind}": ids
        for region in REGIONS
        for kind, ids in (("images", {made[region]}), ("snapshots", new[f"{region}/snapshots"]))
    }
    assert all(len(new[f"{region}/snapshots"]) == 1 for region in REGIONS)


def test_encrypted_copies_go_through_an_intermediary_that_is_removed(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    before = ec2.resources(REGIONS[:2])
    folder = source_folder(
        tmp_path,
        ec2,
        any_key_sshd,
        """
        source_ami         = "ami-760aaa0f"
        ami_name           = "kiln-encrypted"
        ami_regions        = ["us-west-2"]
        encrypt_boot       = true
        kms_key_id         = "alias/build"
        region_kms_key_ids = { us-west-2 = "alias/west", us-east-1 = "alias/east" }
        """,
    )
    out = ok(build(folder, ec2))
    assert "Creating AMI kiln-intermediary-" in out
    assert "(encrypted)" in out
    made = amis(out)
    assert set(made) == {"us-east-1", "us-west-2"}
    after = ec2.resources(REGIONS[:2])
    for region in REGIONS[:2]:
        assert after[f"{region}/images"] - before[f"{region}/images"] == {made[region]}
        assert image(ec2, region, made[region])["Name"] == "kiln-encrypted"
    assert after["us-east-1/instances"] == before["us-east-1/instances"]


def test_an_ami_name_in_use_fails_unless_forced(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    body = 'source_ami = "ami-760aaa0f"\nami_name = "kiln-taken"\nforce_delete_snapshot = true\n'
    folder = source_folder(tmp_path, ec2, any_key_sshd, body)
    first = amis(ok(build(folder, ec2)))["us-east-1"]
    old_snapshots = ec2.resources()["snapshots"]
    refused = build(folder, ec2)
    assert refused.returncode == 1
    assert f"AMI Name: 'kiln-taken' is used by an existing AMI: {first}" in refused.stderr
    forced = ok(build(folder, ec2, "-force"))
    second = amis(forced)["us-east-1"]
    assert f"Deregistered AMI kiln-taken, id: {first}" in forced
    resources = ec2.resources()
    assert first not in resources["images"] and second in resources["images"]
    assert len(resources["snapshots"]) == len(old_snapshots)  # the old one went


def test_the_amazon_ami_data_source_feeds_the_source(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    expected = ec2.client().describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn-ami-*-ecs-optimized"]}]
    )["Images"][0]
    folder = write(
        tmp_path / "t",
        f"""
data "amazon-ami" "base" {{
  region                     = "us-east-1"
  custom_endpoint_ec2        = "{ec2.endpoint}"
  skip_credential_validation = true
  filters                    = {{ name = "{expected["Name"]}" }}
  owners                     = ["amazon"]
}}
"""
        + source(
            ec2,
            any_key_sshd,
            'source_ami = data.amazon-ami.base.id\nami_name = "kiln-from-data"\n'
            "tags = { From = data.amazon-ami.base.name }\n",
        )
        + build_block(),
    )
    out = ok(build(folder, ec2))
    assert f"Found Image ID: {expected['ImageId']}" in out
    made = amis(out)["us-east-1"]
    assert tags(image(ec2, "us-east-1", made))["From"] == expected["Name"]


def test_a_spot_instance_through_a_launch_template_and_a_fleet(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    before = ec2.resources()
    body = """
    source_ami          = "ami-760aaa0f"
    ami_name            = "kiln-spot"
    spot_price          = "auto"
    spot_instance_types = ["t3.micro", "t3a.micro"]
    """
    folder = write(
        tmp_path / "t",
        source(ec2, any_key_sshd, body).replace('instance_type              = "t3.micro"', "")
        + build_block(),
    )
    out = ok(build(folder, ec2))
    assert "through a launch template and a fleet" in out
    made = amis(out)["us-east-1"]
    after = ec2.resources()
    assert after["images"] - before["images"] == {made}
    for kind in ("instances", "key_pairs", "security_groups", "launch_templates", "volumes"):
        assert after[kind] == before[kind], kind


def test_skip_create_ami_has_no_artifact_and_leaves_nothing(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    before = ec2.resources()
    folder = source_folder(
        tmp_path,
        ec2,
        any_key_sshd,
        'source_ami = "ami-760aaa0f"\nami_name = "kiln-skip"\nskip_create_ami = true\n',
    )
    out = ok(build(folder, ec2))
    assert "AMIs were created" not in out
    assert ec2.resources() == before


def test_a_failing_provisioner_leaves_nothing(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    before = ec2.resources()
    folder = source_folder(
        tmp_path,
        ec2,
        any_key_sshd,
        'source_ami = "ami-760aaa0f"\nami_name = "kiln-fails"\n',
        'provisioner "shell" { inline = ["exit 3"] }',
    )
    result = build(folder, ec2, env={"KILN_LOG": "1"})  # the debug log, on stderr
    assert result.returncode == 1
    assert "Terminating the source AWS instance" in result.stdout
    assert "[DEBUG]" in result.stderr and SECRET not in result.stderr
    assert ec2.resources() == before


def test_every_temporary_resource_carries_the_run(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    # a provisioner looks at the resources while they exist
    endpoint = ec2.endpoint
    script = tmp_path / "look.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, boto3
            ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url="{endpoint}",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            tagged = lambda kind: ec2.describe_tags(
                Filters=[{{"Name": "key", "Values": ["kiln_run_uuid"]}},
                         {{"Name": "resource-type", "Values": [kind]}}])["Tags"]
            print(json.dumps({{k: len(tagged(k)) for k in
                              ("instance", "volume", "key-pair", "security-group")}}))
            """
        )
    )
    folder = source_folder(
        tmp_path,
        ec2,
        any_key_sshd,
        'source_ami = "ami-760aaa0f"\nami_name = "kiln-tagged"\n',
        f'provisioner "shell-local" {{ inline = ["{sys.executable} {script}"] }}',
    )
    out = ok(build(folder, ec2))
    counts = json.loads(
        next(line for line in out.splitlines() if '"instance"' in line).split(": ", 1)[1]
    )
    assert counts == {"instance": 1, "volume": 1, "key-pair": 1, "security-group": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('ami_name = "x"\n', "Set one of source_ami and source_ami_filter"),
        ('source_ami = "ami-1"\nami_name = "no"\n', "'no' is not a valid AMI name"),
        ('source_ami = "ami-1"\nami_name = "bad:name"\n', "is not a valid AMI name"),
        (
            'source_ami = "ami-1"\nami_name = "kiln-x"\nregion_kms_key_ids = { eu-west-9 = "k" }\n',
            "region_kms_key_ids names eu-west-9, which is not in ami_regions",
        ),
        (
            'source_ami = "ami-1"\nami_name = "kiln-x"\ndeprecate_at = "next year"\n',
            "deprecate_at must be an RFC 3339 time",
        ),
        (
            'source_ami = "ami-1"\nami_name = "kiln-x"\ntags = { A = "{{.Nope}}" }\n',
            "Unknown placeholder {{.Nope}}",
        ),
        (
            'source_ami_filter {\n  filters = { name = "x" }\n}\nami_name = "kiln-x"\n',
            "owners must be set",
        ),
        # only subnet_filter chooses among several (as in Packer)
        (
            'source_ami = "ami-1"\nami_name = "kiln-x"\nvpc_filter {\n  most_free = true\n}\n',
            'An argument named "most_free" is not expected in a "vpc_filter" block',
        ),
        (
            'source_ami = "ami-1"\nami_name = "kiln-x"\n'
            "security_group_filter {\n  random = true\n}\n",
            'An argument named "random" is not expected in a "security_group_filter" block',
        ),
    ],
)
def test_configuration_errors(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path, body: str, message: str
) -> None:
    folder = source_folder(tmp_path, ec2, any_key_sshd, body)
    result = run_kiln("validate", str(folder), env=ec2.env(), cwd=folder)
    assert result.returncode == 1
    assert message in result.stderr
    assert "on build.pkr.hcl line" in result.stderr
    assert SECRET not in result.stderr


def test_a_kms_key_for_the_build_region_of_the_environment_is_accepted(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    """Without ``region`` the build region is the environment's (AWS_DEFAULT_REGION is
    us-east-1 here): a key for it is not "not in ami_regions"."""
    body = (
        'source_ami = "ami-1"\nami_name = "kiln-x"\nencrypt_boot = true\n'
        'ami_regions = ["us-west-2"]\n'
        'region_kms_key_ids = { us-east-1 = "k1", us-west-2 = "k2" }\n'
    )
    text = source(ec2, any_key_sshd, body).replace('region                     = "us-east-1"', "")
    assert "region  " not in text
    folder = write(tmp_path / "t", text + build_block())
    result = run_kiln("validate", str(folder), env=ec2.env(), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_functions_in_the_ami_name_as_packer_renders_them(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    folder = source_folder(
        tmp_path,
        ec2,
        any_key_sshd,
        'source_ami = "ami-760aaa0f"\n'
        'ami_name = "kiln {{timestamp}} {{clean_resource_name \\"a:b\\"}}"\n'
        'tags = { Day = "{{isotime \\"2006-01-02\\"}}" }\n',
    )
    made = amis(ok(build(folder, ec2)))["us-east-1"]
    found = image(ec2, "us-east-1", made)
    assert re.fullmatch(r"kiln \d{10} a-b", found["Name"]), found["Name"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", tags(found)["Day"])


def test_run_options_reach_the_instance(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    client = ec2.client()
    vpc = client.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    group = client.create_security_group(
        GroupName="kiln-existing", Description="d", VpcId=vpc["VpcId"]
    )["GroupId"]
    (tmp_path / "user-data.sh").write_text("#!/bin/sh\necho hello\n")
    before = ec2.resources()
    folder = source_folder(
        tmp_path,
        ec2,
        any_key_sshd,
        f"""
        source_ami    = "ami-760aaa0f"
        ami_name      = "kiln-options"
        user_data_file = "{tmp_path / "user-data.sh"}"
        ebs_optimized = true
        run_tags        = {{ Purpose = "options" }}
        run_volume_tags = {{ Disk = "root" }}
        vpc_filter {{
          filters = {{ is-default = "true" }}
        }}
        subnet_filter {{
          filters   = {{ default-for-az = "true" }}
          most_free = true
        }}
        security_group_filter {{
          filters = {{ group-name = "kiln-existing" }}
        }}
        metadata_options {{
          http_tokens = "required"
        }}
        launch_block_device_mappings {{
          device_name           = "/dev/sda1"
          volume_size           = 12
          volume_type           = "gp3"
          delete_on_termination = true
        }}
        """,
    )
    made = amis(ok(build(folder, ec2)))["us-east-1"]
    instance = client.describe_instances(Filters=[{"Name": "tag:Purpose", "Values": ["options"]}])[
        "Reservations"
    ][0]["Instances"][0]
    assert instance["State"]["Name"] == "terminated"
    assert instance["SubnetId"].startswith("subnet-") and instance["VpcId"] == vpc["VpcId"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group]
    assert instance["EbsOptimized"] is True
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert tags(instance)["Name"] == "Packer Builder"
    data = client.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )
    assert "hello" in base64.b64decode(data["UserData"]["Value"]).decode()
    after = ec2.resources()
    # the user's group stays; no temporary one was made; the volume went with the instance
    assert after["security_groups"] == before["security_groups"]
    assert after["volumes"] == before["volumes"]
    assert after["images"] - before["images"] == {made}


def test_the_artifact_destroys_its_amis(
    ec2: EC2Emulator, any_key_sshd: SSHServer, tmp_path: Path
) -> None:
    from kiln.sdk import Context
    from kiln_plugin_amazon.access import AWS
    from kiln_plugin_amazon.artifact import AmiArtifact
    from kiln_plugin_amazon.config import AccessConfig

    before = ec2.resources(REGIONS[:2])
    folder = source_folder(
        tmp_path,
        ec2,
        any_key_sshd,
        'source_ami = "ami-760aaa0f"\nami_name = "kiln-destroy"\nami_regions = ["us-west-2"]\n',
    )
    made = amis(ok(build(folder, ec2)))
    access = AccessConfig(
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        custom_endpoint_ec2=ec2.endpoint,
    )
    artifact = AmiArtifact(made, AWS(access, Context()))
    assert artifact.id == f"us-east-1:{made['us-east-1']},us-west-2:{made['us-west-2']}"
    artifact.destroy()
    assert ec2.resources(REGIONS[:2]) == before


def test_a_volume_that_outlived_the_instance_goes_though_another_went_with_it(
    ec2: EC2Emulator,
) -> None:
    """The instance's root volume went with it, a data volume of its AMI outlived it: the
    volumes' lookup must not fail on the one that is gone and leave the other."""
    from kiln.sdk import Context, StateBag
    from kiln.testing import MockUi
    from kiln_plugin_amazon.access import AWS
    from kiln_plugin_amazon.config import EbsConfig
    from kiln_plugin_amazon.steps import StepCleanupVolumes

    before = ec2.resources()
    outlived = ec2.client().create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    config = EbsConfig(
        ami_name="kiln-volumes",
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        custom_endpoint_ec2=ec2.endpoint,
    )
    mappings = [
        ("/dev/sda1", "vol-0123456789abcdef0", True),  # deleted with the instance
        ("/dev/sdg", outlived, False),
    ]
    instance = {
        "BlockDeviceMappings": [
            {"DeviceName": device, "Ebs": {"VolumeId": volume, "DeleteOnTermination": end}}
            for device, volume, end in mappings
        ]
    }
    ctx = Context()
    step = StepCleanupVolumes(config, AWS(config, ctx), ctx)
    step.cleanup(StateBag(ui=MockUi(), instance=instance))
    assert ec2.resources() == before
