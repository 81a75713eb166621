"""User-facing output: targeted messages, machine-readable events, redaction."""
