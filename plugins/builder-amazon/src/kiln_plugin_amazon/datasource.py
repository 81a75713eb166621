"""The ``amazon-ami`` data source: the one AMI a filter finds."""

from __future__ import annotations

from typing import Any

from kiln.sdk import Config, Datasource
from kiln_plugin_amazon.config import AmiDatasourceConfig


class AmiDatasource(Datasource):
    """Finds one AMI by filters and owners: `data.amazon-ami.NAME.id`, `.name`, ...

    It gives `id`, `name`, `creation_date`, `owner`, `owner_name` and `tags` (a map).
    Several matches are an error unless `most_recent = true`; `owners` is required.
    """

    config_class = AmiDatasourceConfig
    config: AmiDatasourceConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, AmiDatasourceConfig)
        config.check_access()
        config.check_filter("owners")
        return []

    def execute(self) -> dict[str, Any]:
        from kiln_plugin_amazon.access import AWS
        from kiln_plugin_amazon.images import find_image, image_data

        aws = AWS(self.config, self.ctx)
        return image_data(find_image(aws.ec2(), "", self.config))
