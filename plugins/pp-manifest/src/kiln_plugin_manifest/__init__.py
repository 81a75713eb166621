"""kiln-plugin-manifest: the ``manifest`` post-processor.

It records every build's artifact in a JSON file in the format of Packer's manifest
post-processor, so tools that read Packer manifests read kiln's unchanged.
"""

DISTRIBUTION = "kiln-plugin-manifest"


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata when first asked for: the
    plugin is imported by every kiln command, which rarely needs it (reading it costs
    a few milliseconds, and importing importlib.metadata some ten more)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # imported from a source tree, not installed
        version = "0+unknown"
    globals()["__version__"] = version
    return version


__all__ = ["DISTRIBUTION", "__version__"]
