"""The amazon-ebs steps, in Packer's order. Every temporary resource is written down in
the run's cleanup journal before the call that creates it (with the name kiln chose for
it), and in the state the moment AWS names it, before any waiting; it carries the run's
tags (``kiln_run_uuid``, ``kiln_build``, ``kiln_created``). So a cleanup, ``kiln reap``
after a killed run (:mod:`kiln_plugin_amazon.reaper`), or its sweep for runs whose
journal was lost, finds it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from kiln.sdk import (
    Action,
    BuildError,
    Context,
    Entry,
    StateBag,
    Step,
    interpolate,
)
from kiln_plugin_amazon.access import (
    AWS,
    AWS_ERRORS,
    ClientError,
    Polling,
    error_code,
    filter_list,
    tag_list,
    tag_specifications,
    wait_until,
)
from kiln_plugin_amazon.config import EbsConfig
from kiln_plugin_amazon.images import find_image, remove_image, snapshot_ids
from kiln_plugin_amazon.reaper import (
    BUILD_TAG,
    CREATED_TAG,
    REAPER,
    RUN_TAG,
    created_now,
    delete_group,
    describe_instance,
    kept_volumes,
    named_groups,
    named_template,
    outliving_volumes,
    tagged_instances,
    terminate_instance,
    untag,
)

#: minutes Packer waits by default
INSTANCE_MINUTES = 10
AMI_MINUTES = 60


class AwsStep(Step):
    def __init__(self, config: EbsConfig, aws: AWS, ctx: Context) -> None:
        self.config, self.aws, self.ctx = config, aws, ctx

    @property
    def ec2(self) -> Any:
        return self.aws.ec2()

    def run_tags(self) -> dict[str, str]:
        """The tags of every temporary resource: the user's run_tags and kiln's own."""
        return {**self.config.run_tags, **self.kiln_tags(), CREATED_TAG: created_now()}

    def kiln_tags(self) -> dict[str, str]:
        return {RUN_TAG: self.ctx.run_uuid, BUILD_TAG: self.ctx.build_name}

    def record(self, kind: str, region: str = "", **details: Any) -> Entry:
        """Write down in the run's journal, before the call that makes it, a ``kind``
        this step is about to create: where it lives (region, the EC2 endpoint, the
        profile), never the credentials, which ``kiln reap`` takes from its
        environment."""
        where: dict[str, Any] = {"region": region or self.aws.region}
        if self.config.custom_endpoint_ec2:
            where["endpoint"] = self.config.custom_endpoint_ec2
        if self.config.profile:
            where["profile"] = self.config.profile
        return self.ctx.record(REAPER, kind, **where, **details)

    def polling(self, minutes: float) -> Polling:
        return Polling.of(self.config, minutes)


def aws_call(what: str, call: Any, /, **args: Any) -> Any:
    """``call(**args)``, an AWS failure turned into a message that says ``what`` failed."""
    try:
        return call(**args)
    except AWS_ERRORS as exc:
        raise BuildError(f"{what}: {exc}") from None


@contextlib.contextmanager
def left_to_user(todo: str) -> Iterator[None]:
    """Run a cleanup's AWS calls; when one fails, the error asks the user to ``todo``
    (what kiln could not remove)."""
    try:
        yield
    except AWS_ERRORS as exc:
        raise BuildError(f"{exc}. Please {todo}.") from None


class StepPreValidate(AwsStep):
    """The credentials work, the regions exist, and the AMI name is free."""

    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        self.aws.check_credentials()
        if not config.skip_region_validation:
            regions = aws_call("Cannot list the regions", self.ec2.describe_regions)["Regions"]
            known = {r["RegionName"] for r in regions}
            for region in [self.aws.region, *config.ami_regions]:
                if region not in known:
                    raise BuildError(
                        f"Unknown region {region!r}: it is not one of this account's regions "
                        "(set skip_region_validation = true for a region AWS has not listed)."
                    )
        if config.force_deregister or config.skip_create_ami:
            return Action.CONTINUE
        ui.say(f"Prevalidating AMI Name: {config.ami_name}")
        found = named_images(self.ec2, config.ami_name)
        if found:
            raise BuildError(
                f"AMI Name: '{config.ami_name}' is used by an existing AMI: "
                f"{found[0]['ImageId']}. Choose another name, or set force_deregister = true "
                "(or run with -force) to replace it."
            )
        return Action.CONTINUE


class StepSourceAMIInfo(AwsStep):
    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        ui.say("Inspecting the source AMI...")
        image = find_image(self.ec2, config.source_ami, config.source_ami_filter)
        if (config.ena_support or config.sriov_support) and image.get(
            "VirtualizationType"
        ) != "hvm":
            raise BuildError(
                f"The source AMI {image['ImageId']} is not HVM: ena_support and "
                "sriov_support need an HVM image."
            )
        ui.message(f"Found Image ID: {image['ImageId']}")
        state["source_image"] = image
        state["generated_data"].update(
            SourceAMI=image["ImageId"],
            SourceAMIName=image.get("Name", ""),
            SourceAMIOwner=image.get("OwnerId", ""),
            SourceAMIOwnerName=image.get("ImageOwnerAlias", ""),
            SourceAMICreationDate=image.get("CreationDate", ""),
            BuildRegion=self.aws.region,
        )
        return Action.CONTINUE


class StepNetworkInfo(AwsStep):
    """The VPC, subnet and availability zone to run in, from their ids or filters."""

    def run(self, state: StateBag) -> Action:
        config = self.config
        vpc_id, subnet_id, zone = config.vpc_id, config.subnet_id, config.availability_zone
        if config.vpc_filter is not None:
            vpcs = aws_call(
                "Cannot look up the VPC",
                self.ec2.describe_vpcs,
                Filters=filter_list(config.vpc_filter.filters),
            )["Vpcs"]
            if len(vpcs) != 1:
                raise BuildError(f"vpc_filter must match exactly one VPC; it matches {len(vpcs)}.")
            vpc_id = vpcs[0]["VpcId"]
        if config.subnet_filter is not None:
            filters = filter_list(config.subnet_filter.filters)
            if vpc_id:
                filters.append({"Name": "vpc-id", "Values": [vpc_id]})
            subnets = aws_call(
                "Cannot look up the subnet", self.ec2.describe_subnets, Filters=filters
            )["Subnets"]
            if not subnets:
                raise BuildError("subnet_filter matches no subnet.")
            if config.subnet_filter.most_free:
                subnets.sort(key=lambda s: -int(s.get("AvailableIpAddressCount", 0)))
            elif config.subnet_filter.random:
                random.shuffle(subnets)
            elif len(subnets) > 1:
                raise BuildError(
                    f"subnet_filter matches {len(subnets)} subnets: make it more specific, "
                    "or set most_free or random."
                )
            subnet_id = subnets[0]["SubnetId"]
        if subnet_id:
            subnet = aws_call(
                f"Cannot look up subnet {subnet_id}",
                self.ec2.describe_subnets,
                SubnetIds=[subnet_id],
            )["Subnets"][0]
            vpc_id = vpc_id or subnet["VpcId"]
            zone = zone or subnet.get("AvailabilityZone", "")
        state.update(vpc_id=vpc_id, subnet_id=subnet_id, availability_zone=zone)
        return Action.CONTINUE


class StepKeyPair(AwsStep):
    """The key pair the instance starts with: the user's, or a temporary one EC2 makes
    (its private key stays in memory)."""

    def __init__(self, config: EbsConfig, aws: AWS, ctx: Context) -> None:
        super().__init__(config, aws, ctx)
        self.created = ""
        self.entry: Entry | None = None

    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        state["key_name"] = config.ssh_keypair_name
        if (
            config.communicator == "none"
            or config.ssh_private_key_file
            or config.ssh_agent_auth
            or config.ssh_password
        ):
            return Action.CONTINUE
        name = config.temporary_key_pair_name or f"kiln_{uuid.uuid4()}"
        ui.say(f"Creating temporary keypair: {name}")
        self.created = name  # before the call: its answer may be lost, the key pair not
        self.entry = self.record("key-pair", name=name)
        made = aws_call(
            "Cannot create the temporary key pair",
            self.ec2.create_key_pair,
            KeyName=name,
            KeyType=config.temporary_key_pair_type,
            TagSpecifications=tag_specifications(("key-pair",), self.run_tags()),
        )
        state["key_name"] = name
        state["ssh_private_key"] = made["KeyMaterial"]
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if not self.created:
            return
        state["ui"].say("Deleting temporary keypair...")
        with left_to_user(f"delete the key pair {self.created} yourself"):
            self.ec2.delete_key_pair(KeyName=self.created)
        if self.entry is not None:
            self.entry.gone()


class StepSecurityGroup(AwsStep):
    """The security groups of the instance: the user's, or a temporary one that lets
    the communicator's port in."""

    def __init__(self, config: EbsConfig, aws: AWS, ctx: Context) -> None:
        super().__init__(config, aws, ctx)
        self.created = ""
        self.group_name = ""  # of a group asked for, whose id may never have come back
        self.entry: Entry | None = None

    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        if config.security_groups:
            aws_call(
                "The security groups cannot be used",
                self.ec2.describe_security_groups,
                GroupIds=config.security_groups,
            )
            state["security_group_ids"] = config.security_groups
            return Action.CONTINUE
        if config.security_group_filter is not None:
            filters = filter_list(config.security_group_filter.filters)
            if state.get("vpc_id"):
                filters.append({"Name": "vpc-id", "Values": [state["vpc_id"]]})
            groups = aws_call(
                "Cannot look up the security groups",
                self.ec2.describe_security_groups,
                Filters=filters,
            )["SecurityGroups"]
            if not groups:
                raise BuildError("security_group_filter matches no security group.")
            state["security_group_ids"] = [g["GroupId"] for g in groups]
            return Action.CONTINUE
        name = self.group_name = f"kiln_{uuid.uuid4()}"
        ui.say(f"Creating temporary security group for this instance: {name}")
        args: dict[str, Any] = {
            "GroupName": name,
            "Description": "Temporary group for a kiln build",
            "TagSpecifications": tag_specifications(("security-group",), self.run_tags()),
        }
        if state.get("vpc_id"):
            args["VpcId"] = state["vpc_id"]
        self.entry = self.record("security-group", name=name, vpc=state.get("vpc_id", ""))
        group = aws_call(
            "Cannot create the temporary security group", self.ec2.create_security_group, **args
        )["GroupId"]
        self.created = group
        self.entry.update(id=group)
        state["security_group_ids"] = [group]
        if config.communicator == "ssh":
            cidrs = config.temporary_security_group_source_cidrs or ["0.0.0.0/0"]
            port = config.ssh_port
            ui.say(f"Authorizing access to port {port} from {cidrs} in the temporary group...")
            aws_call(
                "Cannot open the communicator's port",
                self.ec2.authorize_security_group_ingress,
                GroupId=group,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": cidr} for cidr in cidrs],
                    }
                ],
            )
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if not self.created and self.group_name:  # asked for, and the answer lost?
            with left_to_user(f"check for a security group {self.group_name} and delete it"):
                found = named_groups(self.ec2, self.group_name, state.get("vpc_id", ""))
            self.created = next(iter(found), "")
        if self.created:
            state["ui"].say("Deleting temporary security group...")
            with left_to_user(f"delete the security group {self.created} yourself"):
                delete_group(self.ec2, self.created)
        if self.entry is not None:
            self.entry.gone()


class StepCleanupVolumes(AwsStep):
    """Nothing to run; after the instance is terminated (its step's cleanup runs first),
    deletes the instance's volumes that outlived it, except the ones
    ``launch_block_device_mappings`` asks to keep (``delete_on_termination = false``).

    The kept volumes lose the run's tags: they are the user's, and no sweep of
    ``kiln reap`` must take them. The volumes that outlive the instance are in the
    journal from before it is terminated (:meth:`_Instance.terminate`) until they are
    deleted here."""

    def run(self, state: StateBag) -> Action:
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        instance = state.get("instance")
        if not instance:
            return
        kept = keep_devices(self.config)
        try:
            untag(self.ec2, kept_volumes(instance, kept))
        except AWS_ERRORS as exc:
            raise BuildError(f"Cannot take the run's tags off the kept volumes: {exc}") from None
        entries: dict[str, Entry] = state.get("volume_entries", {})
        volumes = [
            bdm["Ebs"]["VolumeId"]
            for bdm in instance.get("BlockDeviceMappings", [])
            if "Ebs" in bdm and bdm.get("DeviceName") not in kept
        ]
        if not volumes:
            return
        # by a filter, as Packer does: VolumeIds fails whole (InvalidVolume.NotFound)
        # when one of them went with the instance, and would hide those that outlived it
        found = aws_call(
            "Cannot look up the instance's volumes",
            self.ec2.describe_volumes,
            Filters=[{"Name": "volume-id", "Values": volumes}],
        )["Volumes"]
        for volume in found:
            if volume.get("State") == "available":
                state["ui"].say(f"Deleting volume {volume['VolumeId']}...")
                aws_call(
                    "Cannot delete the volume", self.ec2.delete_volume, VolumeId=volume["VolumeId"]
                )
        for entry in entries.values():
            entry.gone()


def keep_devices(config: EbsConfig) -> list[str]:
    """The devices of ``launch_block_device_mappings`` kept after the instance ends."""
    return [
        b.device_name for b in config.launch_block_device_mappings if not b.delete_on_termination
    ]


def user_data(config: EbsConfig) -> bytes:
    """The user data as bytes for botocore (which base64-encodes it): data already in
    base64, as Packer accepts it, is decoded first."""
    text = config.user_data
    if config.user_data_file:
        try:
            with open(config.user_data_file, "rb") as f:
                return f.read()
        except OSError as exc:
            raise BuildError(
                f"Cannot read user_data_file {config.user_data_file}: {exc.strerror}."
            ) from None
    try:
        return base64.b64decode(text, validate=True) if text else b""
    except (binascii.Error, ValueError):
        return text.encode()


class _Instance(AwsStep):
    """What the on-demand and the spot step share: waiting for the instance, and
    terminating it on every path."""

    def __init__(self, config: EbsConfig, aws: AWS, ctx: Context) -> None:
        super().__init__(config, aws, ctx)
        self.instance_id = ""
        self.launched = False  # an instance was asked for
        self.entry: Entry | None = None

    def record_instance(self) -> None:
        """Write the instance down before the call that launches it: without its id, it
        is found by the run's and the build's tags."""
        self.launched = True
        self.entry = self.record(
            "instance", keep_devices=keep_devices(self.config), build_name=self.ctx.build_name
        )

    def launched_as(self, state: StateBag, instance_id: str) -> None:
        self.instance_id = state["instance_id"] = instance_id
        if self.entry is not None:
            self.entry.update(id=instance_id)

    def find_tagged(self) -> list[str]:
        """The instances not terminated that carry this build's tags."""
        run = self.ctx.run_uuid
        with left_to_user(f"check for an instance tagged {RUN_TAG}={run} and terminate it"):
            return tagged_instances(self.ec2, run, self.ctx.build_name)

    def launch_template(self, state: StateBag) -> dict[str, Any]:
        """The instance's settings, as RunInstances and a launch template both take them."""
        config = self.config
        image = state["source_image"]
        if image.get("RootDeviceType") != "ebs":
            raise BuildError(
                f"The source AMI {image['ImageId']} is not EBS-backed: amazon-ebs needs an "
                "EBS root device."
            )
        spec: dict[str, Any] = {"ImageId": image["ImageId"]}
        if state.get("key_name"):
            spec["KeyName"] = state["key_name"]
        data = user_data(config)
        if data:
            spec["UserData"] = data
        groups = state["security_group_ids"]
        if config.associate_public_ip_address is not None:
            interface: dict[str, Any] = {
                "DeviceIndex": 0,
                "AssociatePublicIpAddress": config.associate_public_ip_address,
                "DeleteOnTermination": True,
                "Groups": groups,
            }
            if state.get("subnet_id"):
                interface["SubnetId"] = state["subnet_id"]
            spec["NetworkInterfaces"] = [interface]
        else:
            spec["SecurityGroupIds"] = groups
        if config.iam_instance_profile:
            key = "Arn" if config.iam_instance_profile.startswith("arn:") else "Name"
            spec["IamInstanceProfile"] = {key: config.iam_instance_profile}
        if config.ebs_optimized:
            spec["EbsOptimized"] = True
        if config.metadata_options is not None:
            options = config.metadata_options
            spec["MetadataOptions"] = {
                "HttpEndpoint": options.http_endpoint,
                "HttpTokens": options.http_tokens,
                "HttpPutResponseHopLimit": options.http_put_response_hop_limit,
                "InstanceMetadataTags": options.instance_metadata_tags,
            }
        if config.launch_block_device_mappings:
            spec["BlockDeviceMappings"] = [b.mapping() for b in config.launch_block_device_mappings]
        # tagged at launch, so that an instance whose answer was lost is found
        spec["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": tag_list(self.instance_tags())},
            {"ResourceType": "volume", "Tags": tag_list(self.volume_tags())},
        ]
        return spec

    def instance_tags(self) -> dict[str, str]:
        return {"Name": "Packer Builder", **self.run_tags()}

    def volume_tags(self) -> dict[str, str]:
        return {**(self.config.run_volume_tags or self.config.run_tags), **self.kiln_tags()}

    def wait_running(self, state: StateBag, instance_id: str) -> None:
        ui = state["ui"]
        ui.message(f"Instance ID: {instance_id}")
        ui.say(f"Waiting for instance ({instance_id}) to become ready...")

        def running() -> bool:
            found = self._describe(instance_id)
            name = found["State"]["Name"] if found else "pending"
            if name in ("shutting-down", "terminated", "stopping", "stopped"):
                reason = (found or {}).get("StateReason", {}).get("Message", "")
                raise BuildError(f"The instance {instance_id} went {name}: {reason}")
            return name == "running"

        wait_until(self.ctx, f"Instance {instance_id}", running, self.polling(INSTANCE_MINUTES))
        state["instance"] = self._describe(instance_id)

    def _describe(self, instance_id: str) -> dict[str, Any] | None:
        try:
            return describe_instance(self.ec2, instance_id)  # None: not visible yet
        except AWS_ERRORS as exc:
            raise BuildError(f"Cannot look up the instance {instance_id}: {exc}") from None

    def terminate(self, state: StateBag) -> None:
        if not self.instance_id and self.launched:  # asked for, and the answer lost?
            self.instance_id = next(iter(self.find_tagged()), "")
        if self.instance_id:
            state["ui"].say("Terminating the source AWS instance...")
            # the volumes that outlive it, in the journal before they do
            instance = state.get("instance") or {}
            state["volume_entries"] = {
                volume: self.record("volume", id=volume)
                for volume in outliving_volumes(instance, keep_devices(self.config))
            }
            with left_to_user(f"terminate the instance {self.instance_id} yourself"):
                terminate_instance(
                    self.ctx, self.ec2, self.instance_id, self.polling(INSTANCE_MINUTES)
                )
        if self.entry is not None:
            self.entry.gone()


class StepRunSourceInstance(_Instance):
    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        spec = self.launch_template(state)
        spec.update(
            InstanceType=config.instance_type,
            MinCount=1,
            MaxCount=1,
            InstanceInitiatedShutdownBehavior=config.shutdown_behavior,
        )
        if state.get("subnet_id") and "NetworkInterfaces" not in spec:
            spec["SubnetId"] = state["subnet_id"]
        if state.get("availability_zone"):
            spec["Placement"] = {"AvailabilityZone": state["availability_zone"]}
        ui.say("Launching a source AWS instance...")
        self.record_instance()
        found = aws_call("Cannot launch the source instance", self.ec2.run_instances, **spec)
        # before any waiting: cleanup can end it
        self.launched_as(state, found["Instances"][0]["InstanceId"])
        self.wait_running(state, self.instance_id)
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        self.terminate(state)


class StepRunSpotInstance(_Instance):
    """A spot instance through a launch template and an instant fleet (both removed)."""

    def __init__(self, config: EbsConfig, aws: AWS, ctx: Context) -> None:
        super().__init__(config, aws, ctx)
        self.template_id = ""
        self.template_name = ""
        self.template_entry: Entry | None = None
        self.fleet_id = ""

    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        data = self.launch_template(state)
        if "UserData" in data:  # a launch template takes it base64-encoded
            data["UserData"] = base64.b64encode(data["UserData"]).decode()
        market: dict[str, Any] = {"MarketType": "spot"}
        if config.spot_price != "auto":
            market["SpotOptions"] = {"MaxPrice": config.spot_price}
        data["InstanceMarketOptions"] = market
        data["InstanceInitiatedShutdownBehavior"] = "terminate"
        ui.say("Creating a spot instance through a launch template and a fleet...")
        self.template_name = f"kiln_{uuid.uuid4()}"  # before the call: see cleanup
        self.template_entry = self.record("launch-template", name=self.template_name)
        template = aws_call(
            "Cannot create the launch template",
            self.ec2.create_launch_template,
            LaunchTemplateName=self.template_name,
            LaunchTemplateData=data,
            TagSpecifications=tag_specifications(("launch-template",), self.run_tags()),
        )["LaunchTemplate"]
        self.template_id = template["LaunchTemplateId"]
        self.template_entry.update(id=self.template_id)
        overrides = []
        for kind in config.spot_instance_types or [config.instance_type]:
            override: dict[str, Any] = {"InstanceType": kind}
            if state.get("subnet_id"):
                override["SubnetId"] = state["subnet_id"]
            elif state.get("availability_zone"):
                override["AvailabilityZone"] = state["availability_zone"]
            overrides.append(override)
        self.record_instance()
        fleet = aws_call(
            "Cannot request the spot instance",
            self.ec2.create_fleet,
            Type="instant",
            TargetCapacitySpecification={
                "TotalTargetCapacity": 1,
                "DefaultTargetCapacityType": "spot",
            },
            LaunchTemplateConfigs=[
                {
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateId": self.template_id,
                        "Version": "$Latest",
                    },
                    "Overrides": overrides,
                }
            ],
            TagSpecifications=tag_specifications(("fleet",), self.run_tags()),
        )
        self.fleet_id = fleet.get("FleetId", "")
        ids = [i for found in fleet.get("Instances", []) for i in found.get("InstanceIds", [])]
        if not ids:
            errors = "; ".join(e.get("ErrorMessage", "") for e in fleet.get("Errors", []))
            raise BuildError(f"No spot instance was launched: {errors or 'no capacity'}")
        self.launched_as(state, ids[0])
        self.wait_running(state, self.instance_id)
        volumes = [
            bdm["Ebs"]["VolumeId"]
            for bdm in state["instance"].get("BlockDeviceMappings", [])
            if "Ebs" in bdm
        ]
        aws_call(
            "Cannot tag the spot instance",
            self.ec2.create_tags,
            Resources=[self.instance_id],
            Tags=tag_list(self.instance_tags()),
        )
        if volumes:
            aws_call(
                "Cannot tag the spot instance's volumes",
                self.ec2.create_tags,
                Resources=volumes,
                Tags=tag_list(self.volume_tags()),
            )
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        try:
            self.terminate(state)
        finally:
            if self.fleet_id:
                try:
                    self.ec2.delete_fleets(FleetIds=[self.fleet_id], TerminateInstances=True)
                except ClientError as exc:
                    if "NotFound" not in error_code(exc):
                        state["ui"].error(f"Cannot delete the fleet {self.fleet_id}: {exc}")
            if self.template_name:
                self.delete_template(state)

    def delete_template(self, state: StateBag) -> None:
        try:
            template = self.template_id or named_template(self.ec2, self.template_name)
            if template:  # else never made
                state["ui"].say("Deleting the launch template...")
                self.ec2.delete_launch_template(LaunchTemplateId=template)
        except AWS_ERRORS as exc:
            if "NotFound" not in error_code(exc):
                raise BuildError(
                    f"{exc}. Please delete the launch template {self.template_name} yourself."
                ) from None
        if self.template_entry is not None:
            self.template_entry.gone()


def instance_address(config: EbsConfig, state: StateBag) -> str:
    """The address to connect to: ``ssh_host``, else the one ``ssh_interface`` names,
    else the public IP address, else the private one."""
    if config.ssh_host:
        return config.ssh_host
    instance = state["instance"]
    keys = {
        "public_ip": "PublicIpAddress",
        "private_ip": "PrivateIpAddress",
        "public_dns": "PublicDnsName",
        "private_dns": "PrivateDnsName",
    }
    if config.ssh_interface:
        address = instance.get(keys[config.ssh_interface], "")
    else:
        address = instance.get("PublicIpAddress") or instance.get("PrivateIpAddress", "")
    if not address:
        raise BuildError(
            f"The instance has no {config.ssh_interface or 'IP'} address to connect to; "
            "set ssh_interface, or associate_public_ip_address = true."
        )
    return str(address)


class StepStopInstance(AwsStep):
    def run(self, state: StateBag) -> Action:
        instance_id, ui = state["instance_id"], state["ui"]
        ui.say("Stopping the source instance...")
        aws_call("Cannot stop the instance", self.ec2.stop_instances, InstanceIds=[instance_id])
        ui.say("Waiting for the instance to stop...")

        def stopped() -> bool:
            reservations = aws_call(
                f"Cannot look up the instance {instance_id}",
                self.ec2.describe_instances,
                InstanceIds=[instance_id],
            )["Reservations"]
            return reservations[0]["Instances"][0]["State"]["Name"] == "stopped"

        wait_until(
            self.ctx, f"Stopping instance {instance_id}", stopped, self.polling(INSTANCE_MINUTES)
        )
        return Action.CONTINUE


class StepModifyInstance(AwsStep):
    """ENA and SR-IOV networking, set on the stopped instance so the AMI has them."""

    def run(self, state: StateBag) -> Action:
        config, instance_id = self.config, state["instance_id"]
        if config.ena_support:
            state["ui"].say("Enabling Enhanced Networking (ENA)...")
            aws_call(
                "Cannot enable ENA",
                self.ec2.modify_instance_attribute,
                InstanceId=instance_id,
                EnaSupport={"Value": True},
            )
        if config.sriov_support:
            state["ui"].say("Enabling Enhanced Networking (SR-IOV)...")
            aws_call(
                "Cannot enable SR-IOV",
                self.ec2.modify_instance_attribute,
                InstanceId=instance_id,
                SriovNetSupport={"Value": "simple"},
            )
        return Action.CONTINUE


class StepDeregisterAMI(AwsStep):
    """With force_deregister: AMIs of the same name go, in every target region."""

    def run(self, state: StateBag) -> Action:
        config = self.config
        if not config.force_deregister:
            return Action.CONTINUE
        for region in dict.fromkeys([self.aws.region, *config.ami_regions]):
            ec2 = self.aws.ec2(region)
            for image in named_images(ec2, config.ami_name):
                snapshots = snapshot_ids(image) if config.force_delete_snapshot else []
                remove_image(ec2, image["ImageId"], snapshots)
                state["ui"].say(f"Deregistered AMI {config.ami_name}, id: {image['ImageId']}")
                for snapshot in snapshots:
                    state["ui"].say(f"Deleted snapshot: {snapshot}")
        return Action.CONTINUE


class StepCreateAMI(AwsStep):
    """Image the instance. With encryption the image is an intermediary one, copied
    encrypted next and then removed. A failed or cancelled build removes what this
    step made; a finished one keeps its final AMIs (here and the copies), whose
    journal records this step's cleanup marks kept: it is the last to run."""

    def __init__(self, config: EbsConfig, aws: AWS, ctx: Context) -> None:
        super().__init__(config, aws, ctx)
        self.image_id = ""
        self.image_name = ""
        self.entry: Entry | None = None

    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        region = self.aws.region
        name = config.ami_name
        if config.encrypted:
            name = f"kiln-intermediary-{uuid.uuid4().hex[:12]}"
            state["intermediary_image"] = True
        ui.say(f"Creating AMI {name} from instance {state['instance_id']}")
        args: dict[str, Any] = {
            "InstanceId": state["instance_id"],
            "Name": name,
            "TagSpecifications": tag_specifications(("image",), self.run_tags()),
        }
        if config.ami_description:
            args["Description"] = describe(config, state)
        if config.ami_block_device_mappings:
            args["BlockDeviceMappings"] = [b.mapping() for b in config.ami_block_device_mappings]
        # before the call: if its answer is lost, cleanup finds the image by its name
        # (pre-validation made sure no other image in this region has it)
        self.image_name = name
        self.entry = self.record("image", name=name)
        state["image_entries"] = [self.entry]
        self.image_id = aws_call("Cannot create the AMI", self.ec2.create_image, **args)["ImageId"]
        self.entry.update(id=self.image_id)
        state["amis"] = {region: self.image_id}  # before any waiting: cleanup removes it
        ui.message(f"AMI: {self.image_id}")
        ui.say("Waiting for AMI to become ready...")
        snapshots = wait_image(self.ctx, self.ec2, self.image_id, self.polling(AMI_MINUTES))
        self.entry.update(snapshots=snapshots)
        state["snapshots"] = {region: snapshots}
        if snapshots:  # tagged here: EC2 names them only now
            aws_call(
                "Cannot tag the AMI's snapshots",
                self.ec2.create_tags,
                Resources=snapshots,
                Tags=tag_list(self.run_tags()),
            )
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if self.entry is None:
            return
        if not ("error" in state or state.get("cancelled")):
            final = set(state.get("amis", {}).values())
            for entry in state.get("image_entries", []):
                if entry.details.get("id") in final:
                    entry.keep()  # the builder hands it over as its artifact
            return
        if not self.image_id:  # asked for, and the answer lost?
            found = named_images(self.ec2, self.image_name)
            self.image_id = next((image["ImageId"] for image in found), "")
        if self.image_id:
            state["ui"].say(f"Deregistering the AMI and deleting its snapshots: {self.image_id}")
            with left_to_user(f"deregister {self.image_id} yourself"):
                remove_image(self.ec2, self.image_id, None)
        self.entry.gone()


def named_images(ec2: Any, name: str) -> list[dict[str, Any]]:
    """The account's images called ``name`` in the client's region."""
    images: list[dict[str, Any]] = aws_call(
        "Cannot look up AMIs by name",
        ec2.describe_images,
        Owners=["self"],
        Filters=[{"Name": "name", "Values": [name]}],
    )["Images"]
    return images


def wait_image(ctx: Context, ec2: Any, image_id: str, polling: Polling) -> list[str]:
    """Wait until the image is available; its snapshots."""
    found: dict[str, Any] = {}

    def available() -> bool:
        try:
            images = ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as exc:
            if error_code(exc).startswith("InvalidAMIID"):
                return False  # not visible yet
            raise BuildError(f"Cannot look up the AMI {image_id}: {exc}") from None
        if not images:
            return False
        state = images[0].get("State")
        if state == "failed":
            reason = images[0].get("StateReason", {}).get("Message", "")
            raise BuildError(f"The AMI {image_id} failed: {reason}")
        found.update(images[0])
        return state == "available"

    wait_until(ctx, f"AMI {image_id}", available, polling)
    return snapshot_ids(found)


def describe(config: EbsConfig, state: StateBag) -> str:
    return interpolate(config.ami_description, state["generated_data"], option="ami_description")


class StepAMIRegionCopy(AwsStep):
    """Copy the AMI to ``ami_regions``, in parallel (encrypted when asked); with an
    intermediary image, to the build region too, and remove the intermediary."""

    def __init__(self, config: EbsConfig, aws: AWS, ctx: Context) -> None:
        super().__init__(config, aws, ctx)
        self.copies: dict[str, str] = {}
        #: per region being copied to, the images of the AMI's name already there: one
        #: more after a copy whose answer was lost is that copy
        self.existing: dict[str, set[str]] = {}
        self.intermediary = ""
        self.entries: dict[str, Entry] = {}
        self.lock = threading.Lock()

    def run(self, state: StateBag) -> Action:
        if "amis" not in state:
            return Action.CONTINUE
        build = self.aws.region
        regions = [r for r in dict.fromkeys(self.config.ami_regions) if r != build]
        if state.get("intermediary_image"):
            regions.insert(0, build)
        if not regions:
            return Action.CONTINUE
        source = state["amis"][build]
        if state.get("intermediary_image"):
            self.intermediary = source
        failures: list[BaseException] = []
        snapshots: dict[str, list[str]] = {}

        def copy(region: str) -> None:
            try:
                snapshots[region] = self._copy(state, source, region)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=copy, args=(r,), daemon=True) for r in regions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        state["image_entries"] = [*state["image_entries"], *self.entries.values()]
        if failures:
            raise failures[0]
        state["amis"] = {**state["amis"], **self.copies}
        state["snapshots"] = {**state["snapshots"], **snapshots}
        return Action.CONTINUE

    def _copy(self, state: StateBag, source: str, region: str) -> list[str]:
        config, ui = self.config, state["ui"]
        ec2 = self.aws.ec2(region)
        args: dict[str, Any] = {
            "SourceRegion": self.aws.region,
            "SourceImageId": source,
            "Name": config.ami_name,
        }
        if config.ami_description:
            args["Description"] = describe(config, state)
        if config.encrypted:
            args["Encrypted"] = True
            key = config.region_kms_key_ids.get(region) or config.kms_key_id
            if key:
                args["KmsKeyId"] = key
        tags = self.run_tags()
        args["TagSpecifications"] = tag_specifications(("image", "snapshot"), tags)
        ui.say(f"Copying AMI ({source}) to {region}{' (encrypted)' if config.encrypted else ''}")
        existing = {image["ImageId"] for image in named_images(ec2, config.ami_name)}
        entry = self.record("image", region=region, name=config.ami_name)
        with self.lock:
            self.existing[region] = existing
            self.entries[region] = entry
        copied = aws_call(f"Cannot copy the AMI to {region}", ec2.copy_image, **args)["ImageId"]
        entry.update(id=copied)
        with self.lock:
            self.copies[region] = copied  # before any waiting: cleanup removes it
        ui.message(f"Waiting for AMI ({copied}) in {region} to become ready...")
        snapshots = wait_image(self.ctx, ec2, copied, self.polling(AMI_MINUTES))
        entry.update(snapshots=snapshots)
        # again, for an endpoint that does not tag copies as they are made (moto)
        aws_call(
            f"Cannot tag the AMI copy in {region}",
            ec2.create_tags,
            Resources=[copied, *snapshots],
            Tags=tag_list(tags),
        )
        return snapshots

    def cleanup(self, state: StateBag) -> None:
        # a failed build loses the copies (StepCreateAMI removes its own image); a
        # finished one loses only the intermediary image, now that its copy exists
        if "error" in state or state.get("cancelled"):
            targets = list(self.copies.items())
            for region, existing in self.existing.items():
                if region not in self.copies:  # asked for, and the answer lost?
                    found = named_images(self.aws.ec2(region), self.config.ami_name)
                    made = {image["ImageId"] for image in found}
                    targets += [(region, image) for image in sorted(made - existing)]
            done = list(self.entries.values())
        else:
            targets = [(self.aws.region, self.intermediary)] if self.intermediary else []
            done = [
                e
                for e in state.get("image_entries", [])
                if e.details.get("id") == self.intermediary
            ]
        problems = []
        for region, image in targets:
            state["ui"].say(f"Deregistering {image} in {region} and deleting its snapshots")
            try:
                remove_image(self.aws.ec2(region), image, None)
            except AWS_ERRORS as exc:
                problems.append(f"{image} in {region}: {exc}")
        if problems:
            raise BuildError("Please remove these yourself: " + "; ".join(problems))
        for entry in done:
            entry.gone()


class StepDeprecate(AwsStep):
    def run(self, state: StateBag) -> Action:
        when = self.config.deprecate_at
        if not when or "amis" not in state:
            return Action.CONTINUE
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
        for region, image in state["amis"].items():
            state["ui"].say(f"Deprecating {image} in {region} at {when}")
            aws_call(
                "Cannot set the AMI's deprecation time",
                self.aws.ec2(region).enable_image_deprecation,
                ImageId=image,
                DeprecateAt=moment,
            )
        return Action.CONTINUE


class StepModifyAMIAttributes(AwsStep):
    """Who may launch the AMIs and create volumes from their snapshots."""

    def run(self, state: StateBag) -> Action:
        config = self.config
        if "amis" not in state:
            return Action.CONTINUE
        permissions = [{"UserId": u} for u in config.ami_users]
        permissions += [{"Group": g} for g in config.ami_groups]
        for region, image in state["amis"].items():
            ec2 = self.aws.ec2(region)
            if permissions:
                state["ui"].say(f"Modifying attributes on AMI ({image}) in {region}...")
                aws_call(
                    "Cannot share the AMI",
                    ec2.modify_image_attribute,
                    ImageId=image,
                    LaunchPermission={"Add": permissions},
                )
            if config.snapshot_users or config.snapshot_groups:
                for snapshot in state["snapshots"].get(region, []):
                    args: dict[str, Any] = {
                        "SnapshotId": snapshot,
                        "Attribute": "createVolumePermission",
                        "OperationType": "add",
                    }
                    if config.snapshot_users:
                        args["UserIds"] = config.snapshot_users
                    if config.snapshot_groups:
                        args["GroupNames"] = config.snapshot_groups
                    aws_call("Cannot share the snapshot", ec2.modify_snapshot_attribute, **args)
        return Action.CONTINUE


class StepCreateTags(AwsStep):
    """The AMIs' and snapshots' tags in every region; the run's own tags come off them:
    they are no longer temporary."""

    def run(self, state: StateBag) -> Action:
        config = self.config
        if "amis" not in state:
            return Action.CONTINUE
        values = state["generated_data"]
        tags = {k: interpolate(v, values, option="tags") for k, v in config.tags.items()}
        snapshot_tags = {
            k: interpolate(v, values, option="snapshot_tags")
            for k, v in config.snapshot_tags.items()
        }
        for region, image in state["amis"].items():
            ec2 = self.aws.ec2(region)
            snapshots = state["snapshots"].get(region, [])
            if tags:
                state["ui"].say(f"Adding tags to AMI ({image}) in {region}...")
                aws_call(
                    "Cannot tag the AMI",
                    ec2.create_tags,
                    Resources=[image, *snapshots],
                    Tags=tag_list(tags),
                )
            if snapshot_tags and snapshots:
                aws_call(
                    "Cannot tag the snapshots",
                    ec2.create_tags,
                    Resources=snapshots,
                    Tags=tag_list(snapshot_tags),
                )
            aws_call(
                "Cannot remove the run's tags from the AMI",
                untag,
                ec2=ec2,
                resources=[image, *snapshots],
            )
        return Action.CONTINUE
