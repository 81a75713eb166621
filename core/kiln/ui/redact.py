"""Redaction of sensitive values from every output channel.

As in Packer, the string forms of sensitive values (sensitive variables, credentials
a component declares sensitive) are registered here and replaced by ``<sensitive>``
wherever they would be written: terminal output, logs, crash reports.
"""

from __future__ import annotations

import threading

PLACEHOLDER = "<sensitive>"

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Mark a string as sensitive from now on. Empty strings are ignored."""
    if value:
        with _lock:
            _secrets.add(value)


def clear_secrets() -> None:
    with _lock:
        _secrets.clear()


def redact_text(text: str) -> str:
    """Replace every registered secret in ``text``; longest first so none leaks in part."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, PLACEHOLDER)
    return text
