"""Finding, describing and removing AMIs: shared by the builder, its artifact and the
amazon-ami data source."""

from __future__ import annotations

from typing import Any

from kiln.sdk import BuildError
from kiln_plugin_amazon.access import AWS_ERRORS, ClientError, error_code, filter_list
from kiln_plugin_amazon.config import AmiFilterConfig


def find_image(ec2: Any, image_id: str = "", flt: AmiFilterConfig | None = None) -> dict[str, Any]:
    """The one image ``image_id`` names or ``flt`` finds (the newest with
    ``most_recent``); a clear error when there is none, or several."""
    args: dict[str, Any] = {}
    if image_id:
        args["ImageIds"] = [image_id]
    if flt is not None:
        args["Owners"] = flt.owners
        args["Filters"] = filter_list(flt.filters)
        if flt.include_deprecated:
            args["IncludeDeprecated"] = True
    try:
        images: list[dict[str, Any]] = ec2.describe_images(**args)["Images"]
    except AWS_ERRORS as exc:
        if not error_code(exc).startswith("InvalidAMIID"):  # else: no such image
            raise BuildError(f"Cannot look up the source AMI: {exc}") from None
        images = []
    what = image_id or _describe_filter(flt)
    if not images:
        raise BuildError(f"No AMI was found matching {what}.")
    if len(images) > 1 and not (flt is not None and flt.most_recent):
        raise BuildError(
            f"{len(images)} AMIs match {what}: make the filters more specific, or set "
            "most_recent = true to take the newest."
        )
    return max(images, key=lambda image: image.get("CreationDate", ""))


def _describe_filter(flt: AmiFilterConfig | None) -> str:
    if flt is None:
        return "the source"
    filters = ", ".join(f"{k}={v}" for k, v in sorted(flt.filters.items()))
    return f"filters {{{filters}}} and owners {flt.owners}"


def snapshot_ids(image: dict[str, Any]) -> list[str]:
    """The EBS snapshots behind an image's block devices."""
    return [
        bdm["Ebs"]["SnapshotId"]
        for bdm in image.get("BlockDeviceMappings", [])
        if bdm.get("Ebs", {}).get("SnapshotId")
    ]


def remove_image(ec2: Any, image_id: str, snapshots: list[str] | None = None) -> None:
    """Deregister the image and delete its snapshots (looked up when not given)."""
    if snapshots is None:
        try:
            found = ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as exc:
            if error_code(exc).startswith("InvalidAMIID"):
                return
            raise
        snapshots = snapshot_ids(found[0]) if found else []
    try:
        ec2.deregister_image(ImageId=image_id)
    except ClientError as exc:
        if not error_code(exc).startswith("InvalidAMIID"):
            raise
    delete_snapshots(ec2, snapshots)


def delete_snapshots(ec2: Any, snapshots: list[str]) -> None:
    """Delete the snapshots; one already gone is fine."""
    for snapshot in snapshots:
        try:
            ec2.delete_snapshot(SnapshotId=snapshot)
        except ClientError as exc:
            if error_code(exc) != "InvalidSnapshot.NotFound":
                raise


def image_data(image: dict[str, Any]) -> dict[str, Any]:
    """What the amazon-ami data source says of an image."""
    return {
        "id": image.get("ImageId", ""),
        "name": image.get("Name", ""),
        "creation_date": image.get("CreationDate", ""),
        "owner": image.get("OwnerId", ""),
        "owner_name": image.get("ImageOwnerAlias", ""),
        "tags": {t["Key"]: t["Value"] for t in image.get("Tags", [])},
    }
