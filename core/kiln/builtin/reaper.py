"""The reaper of what kiln's own code leaves when a build is killed: temporary folders
on this machine (:class:`kiln.sdk.TempFolder`; they may hold keys and login
credentials), files half written on this machine (a plugin records them as
``kiln``/``local-file``) and the shell provisioner's scripts and variable files on a machine that
outlives the build (reached again over SSH with the build's key file or agent)."""

from __future__ import annotations

import shlex
from typing import Any

from kiln.sdk import BuildError, CommunicatorError, Leftover, Reaper
from kiln.sdk.journal import remove_tree

#: how long reaching a machine again may take before kiln reap gives up on it
CONNECT_TIMEOUT = 20.0


class LocalReaper(Reaper):
    """Removes the temporary folders and remote files of builds that were killed."""

    def remove(self, leftover: Leftover) -> None:
        path = leftover.details.get("path")
        if not isinstance(path, str):
            raise BuildError(f"the record names no path: {dict(leftover.details)}")
        if leftover.kind in ("local-folder", "local-file"):
            try:
                remove_tree(path)
            except OSError as exc:
                raise BuildError(f"{exc.strerror}: {path}") from None
        elif leftover.kind == "remote-file" and isinstance(leftover.details.get("ssh"), dict):
            self._remove_remote(path, leftover.details["ssh"])
        else:
            raise BuildError(f"kiln does not know how to remove a {leftover.kind!r} record")

    def _remove_remote(self, path: str, ssh: dict[str, Any]) -> None:
        from kiln.communicator.ssh import SSHCommunicator
        from kiln.sdk import CommunicatorConfig, Duration, RemoteCmd

        where = f"{ssh.get('ssh_username')}@{ssh.get('ssh_host')}:{ssh.get('ssh_port')}"
        try:
            config = CommunicatorConfig(
                communicator="ssh", ssh_timeout=Duration(CONNECT_TIMEOUT), **ssh
            )
            comm = SSHCommunicator(config)
        except (TypeError, OSError, CommunicatorError) as exc:
            raise BuildError(f"cannot reach {where} again: {exc}") from None
        try:
            comm.connect(self.ctx)
            status = comm.start(RemoteCmd(f"rm -f {shlex.quote(path)}"), self.ctx)
        except CommunicatorError as exc:
            raise BuildError(f"cannot reach {where} again: {exc}") from None
        finally:
            comm.close()
        if status != 0:
            raise BuildError(f"rm -f {path} on {where} exited with status {status}")
