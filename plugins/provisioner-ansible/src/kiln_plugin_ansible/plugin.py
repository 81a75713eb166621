"""The plugin's entry point (group ``kiln``): the ``ansible`` and ``ansible-local``
provisioners."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import ProvisionerSpec, hookimpl
from kiln_plugin_ansible.ansible_local import AnsibleLocal
from kiln_plugin_ansible.provisioner import Ansible


@hookimpl
def kiln_provisioners() -> Iterator[ProvisionerSpec]:
    yield ProvisionerSpec("ansible", Ansible)
    yield ProvisionerSpec("ansible-local", AnsibleLocal)
