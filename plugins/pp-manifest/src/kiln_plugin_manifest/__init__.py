"""kiln-plugin-manifest: the ``manifest`` post-processor.

It records every build's artifact in a JSON file in the format of Packer's manifest
post-processor, so tools that read Packer manifests read kiln's unchanged.
"""

from importlib import metadata

DISTRIBUTION = "kiln-plugin-manifest"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["DISTRIBUTION", "__version__"]
