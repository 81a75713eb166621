"""The ``shell-local`` post-processor: run commands on this host for each artifact."""

from __future__ import annotations

from kiln.builtin.provisioners.shell_local import LocalScripts, run_local
from kiln.sdk import Artifact, PostProcessor, Ui


class ShellLocalPostProcessor(LocalScripts, PostProcessor):
    """Runs commands on the host running kiln, once per artifact; keeps the artifact.

    It takes the options of the `shell-local` provisioner, and the artifact passes on
    unchanged to the next post-processor.
    """

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        generated = artifact.state.get("generated_data") or {}
        run_local(self.ctx, ui, self.config, self.scripts, generated)
        # the artifact passes through unchanged: deleting it would delete the output
        return artifact, True, True
