"""kiln-plugin-ansible: the ``ansible`` provisioner (ansible-playbook on the build host,
against the machine being built, directly over SSH or through a local SSH adapter that
carries Ansible over any communicator) and the ``ansible-local`` provisioner (Ansible
run inside the machine).
"""

DISTRIBUTION = "kiln-plugin-ansible"

__all__ = ["DISTRIBUTION"]
