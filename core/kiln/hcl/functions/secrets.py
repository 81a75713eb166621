"""Functions that read secret stores, and env.

aws_secretsmanager aws_secretsmanager_raw consul_key vault read from services kiln does
not talk to yet: calling them is an error that says so. ``env`` reads the environment
and, as in Packer, is allowed only in variable defaults (the evaluator enforces that).
"""

from __future__ import annotations

import os

from kiln.hcl.functions._base import CallError, Param, function
from kiln.hcl.types import STRING


def _unavailable(function_name: str, service: str) -> CallError:
    return CallError(
        f'the "{function_name}" function needs access to {service}, which kiln does not '
        "provide yet; pass the value in a variable instead"
    )


@function("aws_secretsmanager", Param("name", STRING), Param("key", STRING, allow_null=True))
def aws_secretsmanager(name: str, key: str | None) -> str:
    """A key of a secret in AWS Secrets Manager (not available in kiln yet)."""
    raise _unavailable("aws_secretsmanager", "AWS Secrets Manager")


@function("aws_secretsmanager_raw", Param("name", STRING))
def aws_secretsmanager_raw(name: str) -> str:
    """The raw value of a secret in AWS Secrets Manager (not available in kiln yet)."""
    raise _unavailable("aws_secretsmanager_raw", "AWS Secrets Manager")


@function("consul_key", Param("key", STRING))
def consul_key(key: str) -> str:
    """A key of the Consul key-value store (not available in kiln yet)."""
    raise _unavailable("consul_key", "a Consul server")


@function("vault", Param("path", STRING), Param("key", STRING))
def vault(path: str, key: str) -> str:
    """A key of a secret in HashiCorp Vault (not available in kiln yet)."""
    raise _unavailable("vault", "a Vault server")


@function("env", Param("key", STRING), only_in_variable_defaults=True)
def env(key: str) -> str:
    """The value of an environment variable, or an empty string when it is unset."""
    return os.environ.get(key, "")
