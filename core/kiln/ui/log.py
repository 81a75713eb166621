"""The debug log: ``KILN_LOG=1`` (or ``PACKER_LOG``) logs to stderr, ``KILN_LOG_PATH``
(or ``PACKER_LOG_PATH``) to a file. Every record is redacted of sensitive values."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from kiln.ui.redact import redact_text

FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def setup_logging(env: Mapping[str, str] | None = None) -> None:
    """Attach the handlers the environment asks for to the ``kiln`` logger (once)."""
    env = os.environ if env is None else env
    logger = logging.getLogger("kiln")
    if getattr(logger, "_kiln_configured", False):
        return
    handlers: list[logging.Handler] = []
    path = env.get("KILN_LOG_PATH") or env.get("PACKER_LOG_PATH")
    if path:
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    elif (env.get("KILN_LOG") or env.get("PACKER_LOG") or "0") not in ("", "0"):
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.setFormatter(RedactingFormatter(FORMAT))
        logger.addHandler(handler)
    if handlers:
        logger.setLevel(logging.DEBUG)
    else:  # without it, Python's last-resort handler prints errors (and tracebacks)
        logger.addHandler(logging.NullHandler())
    logger._kiln_configured = True  # type: ignore[attr-defined]
