"""kiln-plugin-ansible: the ``ansible`` provisioner (ansible-playbook on the build host,
against the machine being built, directly over SSH or through a local SSH adapter that
carries Ansible over any communicator) and the ``ansible-local`` provisioner (Ansible
run inside the machine).
"""

from importlib import metadata

DISTRIBUTION = "kiln-plugin-ansible"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["DISTRIBUTION", "__version__"]
