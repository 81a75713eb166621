"""kiln-plugin-ansible: the ``ansible`` provisioner (ansible-playbook on the build host,
against the machine being built, directly over SSH or through a local SSH adapter that
carries Ansible over any communicator) and the ``ansible-local`` provisioner (Ansible
run inside the machine).
"""

from importlib import metadata

DISTRIBUTION = "kiln-plugin-ansible"


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata when first asked for: the
    plugin is imported by every kiln command, which rarely needs it (reading it costs
    a few milliseconds)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # imported from a source tree, not installed
        version = "0+unknown"
    globals()["__version__"] = version
    return version


__all__ = ["DISTRIBUTION", "__version__"]
