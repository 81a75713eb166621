"""The inventory kiln writes for Ansible, as Packer writes it: one host line, then the
host again under each of ``groups``, and each of ``empty_groups`` with no host."""

from __future__ import annotations

import os
import tempfile

from kiln.sdk import interpolate
from kiln_plugin_ansible.config import INVENTORY_LINE, AnsibleConfig


def inventory_text(config: AnsibleConfig, host: str, port: int, user: str) -> str:
    template = config.inventory_file_template or INVENTORY_LINE
    values = {"HostAlias": config.host_alias, "Host": host, "Port": port, "User": user}
    line = interpolate(template, values, option="inventory_file_template")  # checked in prepare
    if not line.endswith("\n"):
        line += "\n"
    text = line
    for group in config.groups:
        text += f"[{group}]\n{line}"
    for group in config.empty_groups:
        text += f"[{group}]\n"
    return text


def write_inventory(config: AnsibleConfig, host: str, port: int, user: str) -> str:
    """Write the inventory to a new file in ``inventory_directory`` (default: the
    system's temp folder) and return its path."""
    fd, path = tempfile.mkstemp(
        prefix="kiln-provisioner-ansible", dir=config.inventory_directory or None
    )
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(inventory_text(config, host, port, user))
    return path
