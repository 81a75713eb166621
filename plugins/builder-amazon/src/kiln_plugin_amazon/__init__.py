"""kiln-plugin-amazon: the ``amazon-ebs`` builder and the ``amazon-ami`` data source,
on botocore (imported only when a build or a data source runs)."""
