"""The one error type of plugin distribution."""

from __future__ import annotations


class InstallError(Exception):
    """A problem the user must fix; the message says what happened and what to do."""
