"""The ``manifest`` post-processor: one JSON entry per build, in Packer's format."""

from __future__ import annotations

import os
import time
from typing import Any

import kiln_plugin_manifest
from kiln.sdk import (
    Artifact,
    BuildError,
    Config,
    ConfigError,
    PostProcessor,
    Ui,
    interpolate,
    option,
)
from kiln_plugin_manifest import DISTRIBUTION

#: seconds waited on another writer's lock before saying so
SAY_WAITING_AFTER = 5.0


class ManifestConfig(Config):
    output: str = option(
        "packer-manifest.json",
        doc="The manifest file (relative to the folder kiln runs in), with placeholders "
        "`{{.BuildName}}` and `{{.BuilderType}}`. Builds that name the same file all add "
        "their entry to it. Missing folders are created (Packer fails instead).",
    )
    strip_path: bool = option(
        False, doc="Record each file by its base name, without the folders of its path."
    )
    strip_time: bool = option(
        False,
        doc="Leave `build_time` out of the entry, so that identical builds write identical "
        "entries.",
    )
    custom_data: dict[str, str] | None = option(
        None,
        doc="Strings to record with the build, as `custom_data`. HCL templates can use "
        "variables and `source.name`, `build.ID`... in them; values may also use the "
        "placeholders `{{.BuildName}}`, `{{.BuilderType}}` and the builder's generated "
        "data (`{{.SourceAMIName}}`...). Without it the entry has `custom_data: null`.",
    )


class Manifest(PostProcessor):
    """Records each build (name, type, files, artifact id, time) in a JSON manifest file.

    The file is the one Packer's manifest post-processor writes, field for field and in
    the same order, so tools that read Packer manifests read it unchanged:

    ```json
    {
      "builds": [
        {
          "name": "web",
          "builder_type": "docker",
          "build_time": 1700000000,
          "files": null,
          "artifact_id": "sha256:0a1b…",
          "packer_run_uuid": "6f0e…",
          "custom_data": null,
          "kiln": {"version": "0.1.0", "plugins": {"kiln-plugin-docker": "1.0.0"}}
        }
      ],
      "last_run_uuid": "6f0e…"
    }
    ```

    `files` lists `name` and `size` of each file of the artifact (size 0 when it cannot
    be read), or is `null` when the artifact has none. Each entry also says what built
    it under `kiln` (kiln's version and the plugin distributions' versions), a key
    Packer's readers ignore.

    Each run adds its builds to the file. With `-force`, the run's first entry replaces
    what another run wrote, and the run's other builds add to it (Packer 1.6.6 does this
    for legacy JSON templates only; with HCL ones it ignores `-force` and appends).

    Parallel builds, and several kiln processes, can share one manifest: each adds its
    entry holding a lock (`.<name>.lock` beside the manifest; it stays), and writes a
    temporary file that replaces the manifest only once complete, so no entry is lost and
    an interrupted write leaves the previous manifest as it was. The input artifact is
    always kept (`keep_input_artifact` is ignored, as in Packer).
    """

    config_class = ManifestConfig
    config: ManifestConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, ManifestConfig)
        if not config.output:
            raise ConfigError("output must name a file.", option="output")
        interpolate(config.output, self._names(), option="output")
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        # imported here: every kiln command loads the plugin, few write a manifest
        from kiln_plugin_manifest.manifest_file import add_build

        path = interpolate(self.config.output, self._names(), option="output")
        entry = self.entry(artifact)
        said = False

        def waiting(seconds: float) -> None:
            nonlocal said
            self.ctx.check()
            if seconds >= SAY_WAITING_AFTER and not said:
                ui.say(f"Waiting for another build to finish writing {path}...")
                said = True

        ui.say(f"Adding build '{self.ctx.build_name}' to the manifest {path}")
        add_build(path, entry, run_uuid=self.ctx.run_uuid, force=self.ctx.force, waiting=waiting)
        # the artifact passes on unchanged, and is kept whatever the user asked: Packer's rule
        return artifact, True, True

    def entry(self, artifact: Artifact) -> dict[str, Any]:
        """The build's entry, with Packer's keys in Packer's order, then kiln's."""
        entry: dict[str, Any] = {
            "name": self.ctx.build_name,
            "builder_type": self.ctx.builder_type,
        }
        if not self.config.strip_time:
            entry["build_time"] = int(time.time())
        files = [
            {
                "name": os.path.basename(os.path.normpath(path))
                if self.config.strip_path
                else path,
                "size": _size(path),
            }
            for path in artifact.files
        ]
        entry["files"] = files or None
        entry["artifact_id"] = artifact.id
        entry["packer_run_uuid"] = self.ctx.run_uuid
        entry["custom_data"] = self._custom_data(artifact)
        entry["kiln"] = self._versions()
        return entry

    def _names(self) -> dict[str, str]:
        return {"BuildName": self.ctx.build_name, "BuilderType": self.ctx.builder_type}

    def _custom_data(self, artifact: Artifact) -> dict[str, str] | None:
        if self.config.custom_data is None:
            return None
        values = {**self._names(), **(artifact.state.get("generated_data") or {})}
        data: dict[str, str] = {}
        # sorted by key, as Go writes a map
        for key in sorted(self.config.custom_data):
            try:
                data[key] = interpolate(self.config.custom_data[key], values)
            except ConfigError as exc:
                raise BuildError(
                    f'custom_data "{key}": {exc.message} Build values are build.NAME in HCL '
                    "templates and {{ build `NAME` }} in JSON ones."
                ) from None
        return data

    def _versions(self) -> dict[str, Any]:
        """kiln's version and the plugin distributions' (as the engine lists them in
        ``ctx.versions``, kiln first), this plugin's always among them."""
        plugins = dict(self.ctx.versions)
        kiln = plugins.pop("kiln", None) or _installed("kiln")
        plugins.setdefault(DISTRIBUTION, kiln_plugin_manifest.__version__)
        return {"version": kiln, "plugins": plugins}


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _installed(distribution: str) -> str:
    from importlib import metadata  # only when kiln's version is not given: rare

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
