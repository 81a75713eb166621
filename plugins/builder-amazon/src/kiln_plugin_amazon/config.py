"""The amazon-ebs builder's and the amazon-ami data source's options, as Packer names
them. Nothing here imports botocore: ``kiln validate`` reads these declarations only."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Literal

from kiln.sdk import CommunicatorConfig, Config, ConfigError, option

#: what an AMI name may hold (Packer's rule), 3 to 128 characters
AMI_NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")


class AssumeRoleConfig(Config):
    role_arn: str = option(required=True, doc="The role to assume.")
    duration_seconds: int = option(3600, doc="How long the session lasts, in seconds.")
    external_id: str = option("", doc="The external id the role's trust policy asks for.")
    policy: str = option("", doc="An IAM policy (JSON) that narrows the session.")
    policy_arns: list[str] = option(default_factory=list, doc="Managed policies narrowing it.")
    session_name: str = option("", doc="The session's name (default: `kiln-<run id>`).")
    tags: dict[str, str] = option(default_factory=dict, doc="Session tags.")
    transitive_tag_keys: list[str] = option(
        default_factory=list, doc="Session tag keys that pass on to chained roles."
    )


class PollingConfig(Config):
    delay_seconds: int = option(
        0,
        doc="Seconds between the first checks of a resource that is not ready yet; later "
        "checks back off (x1.5, up to 30 s). 0: `AWS_POLL_DELAY_SECONDS`, else 2.",
    )
    max_attempts: int = option(
        0,
        doc="How many checks before giving up. 0: `AWS_MAX_ATTEMPTS`, else enough for "
        "Packer's limits (10 minutes for an instance, 60 for an AMI).",
    )


class AccessConfig(Config):
    """How kiln reaches AWS: the region and the credentials (the AWS SDK's chain unless
    given: environment, shared files and profile, then the instance's role)."""

    region: str = option(
        "", doc="The region to build in (default: `AWS_REGION`/`AWS_DEFAULT_REGION`)."
    )
    profile: str = option("", doc="A profile of the shared credentials and config files.")
    access_key: str = option("", sensitive=True, doc="An access key id (with `secret_key`).")
    secret_key: str = option("", sensitive=True, doc="The secret access key.")
    token: str = option("", sensitive=True, doc="A session token, for temporary credentials.")
    shared_credentials_file: str = option("", doc="The shared credentials file to read.")
    assume_role: AssumeRoleConfig | None = option(
        None, doc="Assume this role with the credentials found, and build with its own."
    )
    custom_endpoint_ec2: str = option(
        "", doc="The EC2 API address to use instead of AWS's (an emulator, a VPC endpoint)."
    )
    skip_credential_validation: bool = option(
        False, doc="Do not check the credentials with STS before building."
    )
    skip_metadata_api_check: bool = option(
        False, doc="Do not ask the instance metadata service for credentials."
    )
    skip_region_validation: bool = option(
        False, doc="Do not check that the regions exist (for regions AWS has not announced)."
    )
    max_retries: int = option(
        0, doc="How often a failed AWS call is retried (0: the AWS SDK's default, 3 attempts)."
    )
    aws_polling: PollingConfig | None = option(
        None, doc="How to wait for instances and AMIs to become ready."
    )

    def build_region(self) -> str:
        """The region to build in: ``region``, else the environment's, as the AWS SDK
        reads it ("" when neither says)."""
        return (
            self.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or ""
        )

    def check_access(self) -> None:
        if bool(self.access_key) != bool(self.secret_key):
            raise ConfigError(
                "Set access_key and secret_key together (or neither, to use the "
                "environment, a profile or the instance's role).",
                option="access_key" if not self.access_key else "secret_key",
            )
        if self.max_retries < 0:
            raise ConfigError("max_retries cannot be negative.", option="max_retries")


class AmiFilterConfig(Config):
    filters: dict[str, str] = option(
        default_factory=dict,
        doc="DescribeImages filters, name to value (`name`, `virtualization-type`, "
        "`root-device-type`...; values may hold `*`).",
    )
    owners: list[str] = option(
        default_factory=list,
        doc="Account ids or aliases (`amazon`, `self`) the image must belong to.",
    )
    most_recent: bool = option(
        False, doc="Take the newest of several matches (without it, several is an error)."
    )
    include_deprecated: bool = option(False, doc="Also consider deprecated images.")

    def check_filter(self, name: str) -> None:
        if not self.owners:
            raise ConfigError(
                f"{name}: owners must be set, or anyone could answer for the image "
                '(`owners = ["self"]`, `["amazon"]`, an account id).',
                option=name,
            )


class FilterConfig(Config):
    filters: dict[str, str] = option(default_factory=dict, doc="Describe* filters.")


class SubnetFilterConfig(FilterConfig):
    most_free: bool = option(False, doc="Of several subnets, the one with most free addresses.")
    random: bool = option(False, doc="Of several subnets, any one.")


class BlockDeviceConfig(Config):
    device_name: str = option(required=True, doc="The device name, e.g. `/dev/sda1`.")
    delete_on_termination: bool = option(
        False, doc="Delete the volume when the instance terminates."
    )
    encrypted: bool | None = option(None, doc="Encrypt the volume.")
    iops: int = option(0, doc="Provisioned IOPS (io1, io2, gp3).")
    no_device: bool = option(False, doc="Suppress this device of the AMI's mapping.")
    snapshot_id: str = option("", doc="The snapshot to create the volume from.")
    throughput: int = option(0, doc="Throughput in MiB/s (gp3).")
    virtual_name: str = option("", doc="An instance store volume (`ephemeral0`).")
    volume_type: str = option("", doc="gp2, gp3, io1, io2, st1, sc1 or standard.")
    volume_size: int = option(0, doc="Size in GiB.")
    kms_key_id: str = option("", doc="The KMS key to encrypt with.")

    def mapping(self) -> dict[str, object]:
        """The BlockDeviceMappings entry EC2 takes."""
        if self.no_device:
            return {"DeviceName": self.device_name, "NoDevice": ""}
        if self.virtual_name:
            return {"DeviceName": self.device_name, "VirtualName": self.virtual_name}
        ebs: dict[str, object] = {"DeleteOnTermination": self.delete_on_termination}
        for key, value in (
            ("Iops", self.iops),
            ("SnapshotId", self.snapshot_id),
            ("Throughput", self.throughput),
            ("VolumeType", self.volume_type),
            ("VolumeSize", self.volume_size),
            ("KmsKeyId", self.kms_key_id),
        ):
            if value:
                ebs[key] = value
        if self.encrypted is not None:
            ebs["Encrypted"] = self.encrypted
        return {"DeviceName": self.device_name, "Ebs": ebs}


class MetadataOptionsConfig(Config):
    http_endpoint: Literal["enabled", "disabled"] = option("enabled", doc="The IMDS endpoint.")
    http_tokens: Literal["optional", "required"] = option(
        "optional", doc="`required`: IMDSv2 only."
    )
    http_put_response_hop_limit: int = option(1, doc="Hops an IMDS answer may travel.")
    instance_metadata_tags: Literal["enabled", "disabled"] = option(
        "disabled", doc="Show the instance's tags in the metadata."
    )


class EbsConfig(CommunicatorConfig, AccessConfig):
    # -- run ------------------------------------------------------------------------------
    source_ami: str = option("", doc="The AMI to start from (or `source_ami_filter`).")
    source_ami_filter: AmiFilterConfig | None = option(
        None, doc="Find the AMI to start from: `filters`, `owners`, `most_recent`."
    )
    instance_type: str = option("", doc="The instance type, e.g. `t3.micro`.")
    spot_price: str = option(
        "",
        doc='Run a spot instance: a maximum price, or `"auto"` (the on-demand price). '
        "kiln asks for it through a launch template and an instant fleet, both removed.",
    )
    spot_instance_types: list[str] = option(
        default_factory=list,
        doc="Instance types the spot fleet may choose from (instead of `instance_type`).",
    )
    subnet_id: str = option("", doc="The subnet to run in.")
    subnet_filter: SubnetFilterConfig | None = option(None, doc="Find the subnet.")
    vpc_id: str = option("", doc="The VPC to run in.")
    vpc_filter: FilterConfig | None = option(None, doc="Find the VPC.")
    availability_zone: str = option("", doc="The availability zone to run in.")
    security_group_id: str = option("", doc="One security group for the instance.")
    security_group_ids: list[str] = option(
        default_factory=list, doc="Security groups for the instance (default: a temporary one)."
    )
    security_group_filter: FilterConfig | None = option(
        None, doc="Find the security groups (`filters`)."
    )
    temporary_security_group_source_cidrs: list[str] = option(
        default_factory=list,
        doc="Who may reach the communicator port through the temporary security group "
        "(default `0.0.0.0/0`, as in Packer; narrow it, security scanners flag it).",
    )
    associate_public_ip_address: bool | None = option(
        None, doc="Give the instance a public IP address (default: the subnet's setting)."
    )
    iam_instance_profile: str = option("", doc="The instance profile the instance runs with.")
    user_data: str = option("", doc="User data (base64-encoded for you unless it already is).")
    user_data_file: str = option("", doc="A file holding the user data.")
    run_tags: dict[str, str] = option(
        default_factory=dict, doc="Tags of the instance (and, unless set, of its volumes)."
    )
    run_volume_tags: dict[str, str] = option(
        default_factory=dict, doc="Tags of the instance's volumes."
    )
    shutdown_behavior: Literal["stop", "terminate"] = option(
        "stop", doc="What the instance does when it shuts itself down."
    )
    ebs_optimized: bool = option(False, doc="Run the instance EBS-optimized.")
    metadata_options: MetadataOptionsConfig | None = option(
        None, doc="The instance metadata service's settings."
    )
    launch_block_device_mappings: list[BlockDeviceConfig] = option(
        default_factory=list, doc="Volumes of the instance while it is provisioned."
    )
    ssh_interface: Literal["", "public_ip", "private_ip", "public_dns", "private_dns"] = option(
        "",
        doc="Which address to connect to (default: the public IP, else the private one). "
        "`ssh_host` overrides it.",
    )
    ssh_keypair_name: str = option(
        "",
        doc="An existing key pair the instance starts with; `ssh_private_key_file` (or "
        "`ssh_agent_auth`) must hold its private key.",
    )
    temporary_key_pair_name: str = option(
        "", doc="The temporary key pair's name (default: `kiln_<uuid>`)."
    )
    temporary_key_pair_type: Literal["ed25519", "rsa"] = option(
        "ed25519",
        doc="The type of the temporary key pair EC2 makes (Packer's default is rsa).",
    )
    # -- AMI ------------------------------------------------------------------------------
    ami_name: str = option(
        required=True,
        doc="The AMI's name: 3 to 128 letters, digits, spaces and `( ) [ ] . / - ' @ _`.",
    )
    ami_description: str = option("", doc="The AMI's description.")
    ami_regions: list[str] = option(
        default_factory=list, doc="More regions to copy the AMI to, in parallel."
    )
    ami_users: list[str] = option(default_factory=list, doc="Accounts that may launch it.")
    ami_groups: list[str] = option(
        default_factory=list, doc='Groups that may launch it (`"all"`: public).'
    )
    snapshot_users: list[str] = option(
        default_factory=list, doc="Accounts that may create volumes from its snapshots."
    )
    snapshot_groups: list[str] = option(
        default_factory=list, doc="Groups that may create volumes from its snapshots."
    )
    tags: dict[str, str] = option(
        default_factory=dict, doc="Tags of the AMI and its snapshots, in every region."
    )
    snapshot_tags: dict[str, str] = option(default_factory=dict, doc="More tags of the snapshots.")
    encrypt_boot: bool | None = option(
        None,
        doc="Encrypt the AMI's volumes: the instance is imaged to a temporary AMI that is "
        "copied encrypted, then removed.",
    )
    kms_key_id: str = option("", doc="The KMS key of `encrypt_boot` (default: AWS's key).")
    region_kms_key_ids: dict[str, str] = option(
        default_factory=dict, doc="The KMS key of each region's encrypted copy."
    )
    force_deregister: bool = option(
        False, doc="Deregister an AMI of the same name first (also set by `-force`)."
    )
    force_delete_snapshot: bool = option(
        False, doc="With `force_deregister`, delete that AMI's snapshots too."
    )
    ami_block_device_mappings: list[BlockDeviceConfig] = option(
        default_factory=list, doc="Volumes added to the AMI's block device mapping."
    )
    ena_support: bool | None = option(None, doc="Enable ENA networking on the AMI.")
    sriov_support: bool = option(False, doc="Enable enhanced networking (SriovNetSupport).")
    skip_create_ami: bool = option(
        False, doc="Provision and stop, but make no AMI (the build has no artifact)."
    )
    deprecate_at: str = option(
        "", doc="When the AMI becomes deprecated, RFC 3339 (`2030-01-01T00:00:00Z`)."
    )

    def check(self, force: bool) -> None:
        """Everything the options must agree on (the template's lines point here)."""
        self.check_access()
        if force:
            self.force_deregister = True
        if self.communicator == "ssh" and not self.ssh_username:
            raise ConfigError(
                "ssh_username must be set to connect over SSH: the image's user (ec2-user, "
                'ubuntu, admin...), or communicator = "none".',
                option="ssh_username",
            )
        self.validate_communicator(("ssh", "none"))
        if bool(self.source_ami) == (self.source_ami_filter is not None):
            raise ConfigError(
                "Set one of source_ami and source_ami_filter.",
                option="source_ami" if self.source_ami else "source_ami_filter",
            )
        if self.source_ami_filter is not None:
            self.source_ami_filter.check_filter("source_ami_filter")
        if bool(self.instance_type) == bool(self.spot_instance_types):
            raise ConfigError(
                "Set one of instance_type and spot_instance_types.", option="instance_type"
            )
        if self.spot_instance_types and not self.spot_price:
            raise ConfigError(
                'spot_instance_types needs spot_price (a maximum price or "auto").',
                option="spot_price",
            )
        if self.spot_price and self.spot_price != "auto":
            try:
                float(self.spot_price)
            except ValueError:
                raise ConfigError(
                    f'spot_price must be a price or "auto", not {self.spot_price!r}.',
                    option="spot_price",
                ) from None
        if self.user_data and self.user_data_file:
            raise ConfigError("Set user_data or user_data_file, not both.", option="user_data")
        if self.security_group_id and self.security_group_ids:
            raise ConfigError(
                "Set security_group_id or security_group_ids, not both.",
                option="security_group_id",
            )
        if self.ssh_keypair_name and self.temporary_key_pair_name:
            raise ConfigError(
                "Set ssh_keypair_name or temporary_key_pair_name, not both.",
                option="temporary_key_pair_name",
            )
        if self.ssh_keypair_name and not (self.ssh_private_key_file or self.ssh_agent_auth):
            raise ConfigError(
                "ssh_keypair_name needs ssh_private_key_file or ssh_agent_auth: kiln must "
                "hold the key pair's private key to log in.",
                option="ssh_keypair_name",
            )
        if not AMI_NAME.fullmatch(self.ami_name or ""):
            raise ConfigError(
                f"ami_name {self.ami_name!r} is not a valid AMI name: 3 to 128 characters, "
                "letters, digits, spaces and ( ) [ ] . / - ' @ _ (clean_resource_name() in "
                "the template cleans one).",
                option="ami_name",
            )
        for region in self.region_kms_key_ids:
            if region not in self.ami_regions and region != self.build_region():
                raise ConfigError(
                    f"region_kms_key_ids names {region}, which is not in ami_regions.",
                    option="region_kms_key_ids",
                )
        if self.region_kms_key_ids and self.ami_regions:
            missing = [r for r in self.ami_regions if r not in self.region_kms_key_ids]
            if missing:
                raise ConfigError(
                    f"region_kms_key_ids needs a key for every region of ami_regions "
                    f"(missing: {', '.join(missing)}).",
                    option="region_kms_key_ids",
                )
        if (self.kms_key_id or self.region_kms_key_ids) and self.encrypt_boot is False:
            raise ConfigError(
                "kms_key_id and region_kms_key_ids encrypt the AMI: they need encrypt_boot.",
                option="encrypt_boot",
            )
        if self.deprecate_at:
            try:
                datetime.fromisoformat(self.deprecate_at.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError(
                    f"deprecate_at must be an RFC 3339 time, such as 2030-01-01T00:00:00Z, "
                    f"not {self.deprecate_at!r}.",
                    option="deprecate_at",
                ) from None
        polling = self.aws_polling
        if polling is not None and (polling.delay_seconds < 0 or polling.max_attempts < 0):
            raise ConfigError(
                "aws_polling: delay_seconds and max_attempts cannot be negative.",
                option="aws_polling",
            )

    @property
    def encrypted(self) -> bool:
        return bool(self.encrypt_boot or self.kms_key_id or self.region_kms_key_ids)

    @property
    def security_groups(self) -> list[str]:
        return self.security_group_ids or (
            [self.security_group_id] if self.security_group_id else []
        )


class AmiDatasourceConfig(AccessConfig, AmiFilterConfig):
    pass
