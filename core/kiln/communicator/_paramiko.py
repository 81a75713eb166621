"""paramiko, imported without invoke.

``paramiko.config`` imports invoke (about 20 ms, a fifth of paramiko's import time, paid
by every build that connects over SSH) for one use: the ``Match exec`` lines of
ssh_config files, which kiln never reads (a template gives every connection setting).
While paramiko loads, invoke reads as absent, which paramiko accepts; afterwards it
imports as usual.
"""

from __future__ import annotations

import sys

_hidden = "invoke" not in sys.modules
if _hidden:
    sys.modules["invoke"] = None  # type: ignore[assignment]
try:
    import paramiko
finally:
    if _hidden and sys.modules.get("invoke", False) is None:
        del sys.modules["invoke"]

__all__ = ["paramiko"]
