"""``kiln reap`` for amazon-ebs: removes what a build that was killed (or whose cleanup
could not reach EC2) left behind, from its journal's records, and sweeps for resources
tagged with a run that has no journal here.

The records carry the region, the EC2 endpoint (``custom_endpoint_ec2``) and the
profile a build used, never its credentials: the reaper signs with the environment's
credential chain (``AWS_ACCESS_KEY_ID``..., ``AWS_PROFILE``, the shared files, the
instance's role). The sweep looks in the environment's region (``AWS_REGION``,
``AWS_DEFAULT_REGION`` or the profile's) and the regions ``KILN_REAP_AWS_REGIONS``
lists (comma-separated), at the endpoint botocore finds there (``AWS_ENDPOINT_URL_EC2``,
else AWS's).

This module is loaded with the plugin for every kiln command: botocore is imported
only when a reap runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from kiln.sdk import BuildError, Leftover, Reaper

#: the name amazon-ebs's records give for their reaper
REAPER = "amazon"
#: tags kiln puts on every temporary resource, so that leftovers of a killed run can
#: be found: the run's id and the build's name
RUN_TAG = "kiln_run_uuid"
BUILD_TAG = "kiln_build"
#: the tag that says when a temporary resource was made (ISO 8601, UTC): the sweep's
#: age for kinds EC2 gives no creation time (security groups)
CREATED_TAG = "kiln_created"
#: instance states the sweep and a lookup by tags take for not terminated
LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
#: a security group may still be in use while its instance terminates
GROUP_DELETE_TRIES, GROUP_DELETE_PAUSE = 5, 5.0
#: how a reap waits for an instance to terminate: 2 s first, backing off, ~17 minutes
TERMINATE_DELAY, TERMINATE_CHECKS = 2.0, 40


def created_now() -> str:
    """The value of :data:`CREATED_TAG` for something made now."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sweep_regions() -> list[str]:
    """The regions the sweep looks in: the environment's, then ``KILN_REAP_AWS_REGIONS``."""
    listed = os.environ.get("KILN_REAP_AWS_REGIONS", "").split(",")
    default = _session(None).get_config_variable("region") or ""
    return [r for r in dict.fromkeys([default, *(x.strip() for x in listed)]) if r]


class AmazonReaper(Reaper):
    """Terminates instances (waiting until they are, so their security group can go),
    deregisters AMIs and deletes their snapshots, and deletes launch templates, key
    pairs, security groups and volumes. Something already gone counts as removed."""

    def remove(self, leftover: Leftover) -> None:
        from kiln_plugin_amazon.access import AWS_ERRORS

        remover = _REMOVERS.get(leftover.kind)
        if remover is None:
            raise BuildError(f"the amazon plugin does not remove {leftover.kind!r} records")
        details = leftover.details
        ec2 = client(details.get("region", ""), details.get("endpoint", ""), details.get("profile"))
        try:
            remover(self, ec2, leftover)
        except AWS_ERRORS as exc:
            raise BuildError(str(exc)) from None

    def sweep(self, live: set[str], older_than: float) -> Iterable[Leftover]:
        """What carries the run tag of a run not in ``live``, older than ``older_than``
        seconds by its creation tag (else EC2's own time; neither: left alone), in every
        region of :func:`sweep_regions`: instances first, key pairs last."""
        from kiln_plugin_amazon.access import AWS_ERRORS

        regions = sweep_regions()
        if not regions:
            return []
        if _session(None).get_credentials() is None:
            if os.environ.get("KILN_REAP_AWS_REGIONS"):
                self.ui.message(
                    "amazon: no AWS credentials in the environment; not looking for "
                    "tagged leftovers."
                )
            return []
        found: list[Leftover] = []
        cutoff = time.time() - older_than
        for region in regions:
            try:
                found += _tagged(client(region, "", None), region, live, cutoff)
            except AWS_ERRORS as exc:  # a region botocore refuses too
                raise BuildError(f"in {region}: {exc}") from None
        return found

    # -- one kind each ----------------------------------------------------------------

    def _instance(self, ec2: Any, leftover: Leftover) -> None:
        details = leftover.details
        ids = (
            [details["id"]]
            if details.get("id")
            else tagged_instances(ec2, leftover.run, details.get("build_name", ""))
        )
        for instance_id in ids:
            end_instance(self.ctx, ec2, instance_id, details.get("keep_devices", []))

    def _key_pair(self, ec2: Any, leftover: Leftover) -> None:
        _ignore_not_found(ec2.delete_key_pair, KeyName=leftover.details["name"])

    def _security_group(self, ec2: Any, leftover: Leftover) -> None:
        details = leftover.details
        group = details.get("id") or next(iter(named_groups(ec2, details["name"])), "")
        if group:
            delete_group(ec2, group)

    def _launch_template(self, ec2: Any, leftover: Leftover) -> None:
        details = leftover.details
        template = details.get("id") or named_template(ec2, details["name"])
        if template:
            _ignore_not_found(ec2.delete_launch_template, LaunchTemplateId=template)

    def _image(self, ec2: Any, leftover: Leftover) -> None:
        from kiln_plugin_amazon.images import remove_image

        details = leftover.details
        if details.get("id"):
            # the recorded snapshots go too when the image was deregistered before them;
            # none recorded: they are looked up
            remove_image(ec2, details["id"], details.get("snapshots"))
            return
        for image in run_images(ec2, details, leftover.run):
            remove_image(ec2, image, None)

    def _snapshot(self, ec2: Any, leftover: Leftover) -> None:
        from kiln_plugin_amazon.images import delete_snapshots

        delete_snapshots(ec2, [leftover.details["id"]])

    def _volume(self, ec2: Any, leftover: Leftover) -> None:
        _ignore_not_found(ec2.delete_volume, VolumeId=leftover.details["id"])


_REMOVERS: dict[str, Callable[[AmazonReaper, Any, Leftover], None]] = {
    "instance": AmazonReaper._instance,
    "key-pair": AmazonReaper._key_pair,
    "security-group": AmazonReaper._security_group,
    "launch-template": AmazonReaper._launch_template,
    "image": AmazonReaper._image,
    "snapshot": AmazonReaper._snapshot,
    "volume": AmazonReaper._volume,
}

# -- clients --------------------------------------------------------------------------

_sessions: dict[str | None, Any] = {}
_clients: dict[tuple[str | None, str, str], Any] = {}


def _session(profile: str | None) -> Any:
    from kiln_plugin_amazon.access import new_session

    if profile not in _sessions:
        _sessions[profile] = new_session(profile or None)
    return _sessions[profile]


def client(region: str, endpoint: str, profile: str | None) -> Any:
    """An EC2 client signed by the environment's credentials (with ``profile``), at
    ``endpoint`` (else the one botocore finds: ``AWS_ENDPOINT_URL_EC2``, then AWS's)."""
    from kiln_plugin_amazon.access import new_client

    key = (profile, region, endpoint)
    if key not in _clients:
        session = _session(profile)
        if session.get_credentials() is None:
            raise BuildError(
                "no AWS credentials in the environment: kiln reap signs with the "
                "environment's credential chain (AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the shared files, the instance's "
                "role), never with a template's access_key and secret_key"
            )
        _clients[key] = new_client(session, "ec2", region, endpoint)
    return _clients[key]


# -- removing -------------------------------------------------------------------------


def _ignore_not_found(call: Callable[..., Any], **args: Any) -> None:
    """``call(**args)``; an answer that the thing does not exist is success."""
    from kiln_plugin_amazon.access import ClientError, error_code

    try:
        call(**args)
    except ClientError as exc:
        if "NotFound" not in error_code(exc):
            raise


def tagged_instances(ec2: Any, run: str, build: str = "") -> list[str]:
    """The instances of run ``run`` that are not terminated (of its build ``build`` only,
    when given: another build of the run keeps other volumes)."""
    filters = [
        {"Name": f"tag:{RUN_TAG}", "Values": [run]},
        {"Name": "instance-state-name", "Values": LIVE_STATES},
    ]
    if build:
        filters.append({"Name": f"tag:{BUILD_TAG}", "Values": [build]})
    reservations = ec2.describe_instances(Filters=filters)["Reservations"]
    return [i["InstanceId"] for r in reservations for i in r["Instances"]]


def outliving_volumes(instance: dict[str, Any], keep_devices: Iterable[str]) -> list[str]:
    """The instance's EBS volumes that survive its termination and are not kept on
    purpose (``launch_block_device_mappings`` with ``delete_on_termination = false``)."""
    kept = set(keep_devices)
    return [
        bdm["Ebs"]["VolumeId"]
        for bdm in instance.get("BlockDeviceMappings", [])
        if "Ebs" in bdm
        and not bdm["Ebs"].get("DeleteOnTermination", True)
        and bdm.get("DeviceName") not in kept
    ]


def kept_volumes(instance: dict[str, Any], keep_devices: Iterable[str]) -> list[str]:
    """The instance's EBS volumes the template keeps after the build."""
    kept = set(keep_devices)
    return [
        bdm["Ebs"]["VolumeId"]
        for bdm in instance.get("BlockDeviceMappings", [])
        if "Ebs" in bdm and bdm.get("DeviceName") in kept
    ]


def untag(ec2: Any, resources: list[str]) -> None:
    """Take kiln's run tags off ``resources``: they are the user's now, and no sweep
    must remove them."""
    if resources:
        ec2.delete_tags(
            Resources=resources,
            Tags=[{"Key": RUN_TAG}, {"Key": BUILD_TAG}, {"Key": CREATED_TAG}],
        )


def describe_instance(ec2: Any, instance_id: str) -> dict[str, Any] | None:
    """The instance, or None when EC2 does not know it (yet, or any more)."""
    from kiln_plugin_amazon.access import ClientError, error_code

    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if error_code(exc) == "InvalidInstanceID.NotFound":
            return None
        raise
    instances = [i for r in reservations for i in r["Instances"]]
    return instances[0] if instances else None


def terminate_instance(ctx: Any, ec2: Any, instance_id: str, polling: Any) -> None:
    """Terminate the instance and wait until it is (not cancellable: it must end)."""
    from kiln_plugin_amazon.access import wait_until

    _ignore_not_found(ec2.terminate_instances, InstanceIds=[instance_id])

    def terminated() -> bool:
        found = describe_instance(ec2, instance_id)
        return found is None or found["State"]["Name"] == "terminated"

    wait_until(ctx.detached(), f"Terminating instance {instance_id}", terminated, polling)


def end_instance(ctx: Any, ec2: Any, instance_id: str, keep_devices: Iterable[str]) -> None:
    """Terminate the instance, then delete its volumes that outlive it (the kept ones
    lose the run's tags instead)."""
    from kiln_plugin_amazon.access import Polling

    instance = describe_instance(ec2, instance_id)
    if instance is None or instance["State"]["Name"] == "terminated":
        return
    untag(ec2, kept_volumes(instance, keep_devices))
    volumes = outliving_volumes(instance, keep_devices)
    terminate_instance(ctx, ec2, instance_id, Polling(TERMINATE_DELAY, TERMINATE_CHECKS))
    for volume in volumes:
        _ignore_not_found(ec2.delete_volume, VolumeId=volume)


def named_groups(ec2: Any, name: str, vpc_id: str = "") -> list[str]:
    """The ids of the security groups called ``name`` (in ``vpc_id``, when given)."""
    filters = [{"Name": "group-name", "Values": [name]}]
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    return [g["GroupId"] for g in ec2.describe_security_groups(Filters=filters)["SecurityGroups"]]


def named_template(ec2: Any, name: str) -> str:
    """The id of the launch template called ``name``; "" when there is none."""
    found = ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": [name]}]
    )["LaunchTemplates"]
    return str(found[0]["LaunchTemplateId"]) if found else ""


def delete_group(ec2: Any, group_id: str, pause: float = GROUP_DELETE_PAUSE) -> None:
    """Delete the security group, trying again while an instance that is terminating
    still uses it; a group already gone is fine."""
    from kiln_plugin_amazon.access import ClientError, error_code

    for attempt in range(GROUP_DELETE_TRIES):
        try:
            ec2.delete_security_group(GroupId=group_id)
            return
        except ClientError as exc:
            if error_code(exc) == "InvalidGroup.NotFound":
                return
            if attempt + 1 == GROUP_DELETE_TRIES or error_code(exc) != "DependencyViolation":
                raise
        time.sleep(pause)


def run_images(ec2: Any, details: Any, run: str) -> list[str]:
    """The account's images called ``details["name"]`` that carry run ``run``'s tag (an
    image whose id never came back): never an image of another run of that name."""
    filters = [
        {"Name": "name", "Values": [details["name"]]},
        {"Name": f"tag:{RUN_TAG}", "Values": [run]},
    ]
    images = ec2.describe_images(Owners=["self"], Filters=filters)["Images"]
    return [image["ImageId"] for image in images]


# -- the sweep ------------------------------------------------------------------------


def _tagged(ec2: Any, region: str, live: set[str], cutoff: float) -> Iterator[Leftover]:
    """The region's resources carrying the run tag of a run not in ``live`` and made
    before ``cutoff``, instances first (their groups and key pairs go after them)."""
    tagged = [{"Name": "tag-key", "Values": [RUN_TAG]}]
    endpoint = ec2.meta.endpoint_url
    kinds: list[tuple[str, Iterable[dict[str, Any]], str, str]] = [
        (
            "instance",
            (
                i
                for r in ec2.describe_instances(
                    Filters=[*tagged, {"Name": "instance-state-name", "Values": LIVE_STATES}]
                )["Reservations"]
                for i in r["Instances"]
            ),
            "InstanceId",
            "LaunchTime",
        ),
        (
            "launch-template",
            ec2.describe_launch_templates(Filters=tagged)["LaunchTemplates"],
            "LaunchTemplateId",
            "CreateTime",
        ),
        (
            "image",
            ec2.describe_images(Owners=["self"], Filters=tagged)["Images"],
            "ImageId",
            "CreationDate",
        ),
        (
            "snapshot",
            ec2.describe_snapshots(OwnerIds=["self"], Filters=tagged)["Snapshots"],
            "SnapshotId",
            "StartTime",
        ),
        ("volume", ec2.describe_volumes(Filters=tagged)["Volumes"], "VolumeId", "CreateTime"),
        (
            "security-group",
            ec2.describe_security_groups(Filters=tagged)["SecurityGroups"],
            "GroupId",
            "",
        ),
        ("key-pair", ec2.describe_key_pairs(Filters=tagged)["KeyPairs"], "KeyName", "CreateTime"),
    ]
    for kind, items, key, time_key in kinds:
        for item in items:
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
            run = tags.get(RUN_TAG, "")
            made = _when(tags.get(CREATED_TAG) or item.get(time_key))
            if not run or run in live or made is None or made > cutoff:
                continue
            details: dict[str, Any] = {"region": region, "endpoint": endpoint}
            details["name" if kind == "key-pair" else "id"] = item[key]
            yield Leftover(run, tags.get(BUILD_TAG, ""), REAPER, kind, details)


def _when(value: Any) -> float | None:
    """A time EC2 gave (a datetime, an ISO 8601 text) as seconds since the epoch."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return None
