"""The AMIs an amazon-ebs build made, one per region."""

from __future__ import annotations

from typing import Any

from kiln.sdk import Artifact
from kiln_plugin_amazon.access import AWS

BUILDER_ID = "mitchellh.amazonebs"


class AmiArtifact(Artifact):
    """``id`` is Packer's: the ``region:ami`` pairs, sorted, joined by commas.
    ``destroy`` deregisters the AMIs and deletes their snapshots."""

    def __init__(
        self, amis: dict[str, str], aws: AWS, generated: dict[str, Any] | None = None
    ) -> None:
        pairs = sorted(f"{region}:{ami}" for region, ami in amis.items())
        super().__init__(
            BUILDER_ID,
            id=",".join(pairs),
            state={"generated_data": dict(generated or {}), "amis": dict(amis)},
        )
        self.amis = dict(amis)
        self.aws = aws

    def string(self) -> str:
        lines = [f"{region}: {ami}" for region, ami in sorted(self.amis.items())]
        return "AMIs were created:\n" + "\n".join(lines) + "\n"

    def destroy(self) -> None:
        from kiln_plugin_amazon.images import remove_image

        for region, ami in sorted(self.amis.items()):
            remove_image(self.aws.ec2(region), ami, None)
