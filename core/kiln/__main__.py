"""``python -m kiln``: the same as the ``kiln`` console script."""

from kiln.cli.main import cli

cli()
