"""The repository's test servers, for the core's tests and every plugin's alike: a real
sshd, package indexes, and a private Docker engine with a registry. Being at the root,
this also puts the repository on ``sys.path``, so plugin tests import ``tests.*``."""

pytest_plugins = ["tests.sshd", "tests.indexserver", "tests.dockerd"]
