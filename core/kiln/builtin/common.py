"""Helpers the built-in provisioners share."""

from __future__ import annotations

from kiln.sdk import BuildError, Communicator


def require_communicator(comm: Communicator | None, kind: str) -> Communicator:
    """``comm``, or a clear error for a build that has no machine to talk to."""
    if comm is None:
        raise BuildError(
            f'The "{kind}" provisioner needs a communicator, and this build has none '
            '(communicator = "none", or a builder such as "file" that makes no machine). '
            "Set a communicator in the source, or remove the provisioner from this build."
        )
    return comm
