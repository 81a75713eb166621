"""kiln's communicators: how builds reach the machine they change.

- :mod:`kiln.communicator.ssh`: ``communicator = "ssh"``, on paramiko (imported only
  when a build connects, so ``kiln validate`` stays light);
- :mod:`kiln.communicator.local`: the host running kiln itself;
- ``communicator = "none"`` is no communicator at all (``None``).

Builders do not use these directly: :class:`kiln.sdk.steps.StepConnect` connects.
"""
