"""kiln-plugin-amazon: the ``amazon-ebs`` builder and the ``amazon-ami`` data source,
on boto3 (imported only when a build or a data source runs)."""
