"""kiln: build machine images from HashiCorp Packer templates."""

__version__ = "0.1.0"

#: The Packer version kiln declares itself compatible with. ``packer.required_version``
#: constraints are checked against it and ``packer.version`` evaluates to it.
PACKER_COMPAT_VERSION = "1.11.2"
