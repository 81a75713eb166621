"""The repository's test servers, for the core's tests and every plugin's alike: a real
sshd (and one that accepts any key), package indexes, a private Docker engine with a
registry, and an EC2 emulator. Being at the root, this also puts the repository on
``sys.path``, so plugin tests import ``tests.*``."""

pytest_plugins = ["tests.sshd", "tests.indexserver", "tests.dockerd", "tests.ec2"]
