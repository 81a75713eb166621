"""The ``file`` provisioner: copy files and folders to the machine, or back from it."""

from __future__ import annotations

import io
import os
import stat
from typing import Any, Literal

from kiln.sdk import (
    BuildError,
    Communicator,
    CommunicatorError,
    Config,
    ConfigError,
    Provisioner,
    Ui,
    atomic_file,
    option,
    require_communicator,
)

#: the file name ``content`` gets when the destination is a folder (as in Packer)
CONTENT_NAME = "pkr-file-content"
_GLOB = set("*?[")


class FileConfig(Config):
    source: str = option(
        "",
        doc="A file or folder to copy. For a folder, a trailing slash copies what it holds "
        "into `destination`; without one the folder itself is created there.",
    )
    sources: list[str] = option(
        default_factory=list,
        doc="Several files or folders to copy into one `destination` folder (which must end "
        "with a slash).",
    )
    content: str = option(
        "",
        doc="Text to write to `destination` instead of copying a file (to "
        f"`destination/{CONTENT_NAME}` when it is a folder). Only for uploads.",
    )
    destination: str = option(
        required=True,
        doc="Where the files go: on the machine for an upload, on this host for a download. "
        "Parent folders must exist on the machine. End it with a slash to name a folder, "
        "so a file keeps its own name.",
    )
    direction: Literal["upload", "download"] = option(
        "upload", doc="`upload` to the machine, or `download` from it."
    )
    generated: bool = option(
        False,
        doc="The source is made during the build (by an earlier provisioner), so it is "
        "not checked before the build starts.",
    )


class File(Provisioner):
    """Uploads files and folders to the machine, or downloads them from it.

    Folders follow rsync's rule: `source = "site/"` copies what the folder holds into
    `destination`, `source = "site"` creates `destination/site`. A download goes to a
    temporary file first, so a failed transfer leaves no partial file behind, and every
    source of `sources` is downloaded (Packer stops after the first folder). A download
    source without a trailing slash may be a folder too: it is copied whole into
    `destination`, where Packer fails.
    """

    config_class = FileConfig
    config: FileConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, FileConfig)
        self.sources = list(config.sources) + ([config.source] if config.source else [])
        if config.content and self.sources:
            raise ConfigError('Set "content" or "source"/"sources", not both.', option="content")
        if config.content and config.direction == "download":
            raise ConfigError(
                '"content" only works for uploads; set "source" for a download.',
                option="content",
            )
        if not config.content and not self.sources:
            raise ConfigError(
                'Nothing to copy: set "source", "sources" or "content".', option="source"
            )
        if not config.destination:
            raise ConfigError("Destination must be specified.", option="destination")
        if len(self.sources) > 1 and not config.destination.endswith("/"):
            raise ConfigError(
                f'Several sources go into one folder: end "destination" with a slash '
                f'("{config.destination}/"), or each file would overwrite the last.',
                option="destination",
            )
        if config.direction == "upload" and not config.generated:
            for src in self.sources:
                if not os.path.exists(src):
                    raise ConfigError(
                        f"Bad source '{src}': no such file or directory. If an earlier "
                        "provisioner makes it, set generated = true.",
                        option="sources" if src in config.sources else "source",
                    )
        return []

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        comm = require_communicator(comm, "file")
        try:
            if self.config.direction == "download":
                for src in self.sources:
                    self._download(ui, comm, src)
            elif self.config.content:
                self._upload_content(ui, comm)
            else:
                for src in self.sources:
                    self._upload(ui, comm, src)
        except CommunicatorError as exc:
            raise BuildError(f"{self.config.direction.capitalize()} failed: {exc}") from exc

    def _upload_content(self, ui: Ui, comm: Communicator) -> None:
        dst = self.config.destination
        if dst.endswith("/"):
            dst += CONTENT_NAME
        ui.say(f"Uploading content => {dst}")
        comm.upload(dst, io.BytesIO(self.config.content.encode()), ctx=self.ctx)

    def _upload(self, ui: Ui, comm: Communicator, src: str) -> None:
        dst = self.config.destination
        ui.say(f"Uploading {src} => {dst}")
        try:
            info = os.stat(src)
        except OSError as exc:
            raise BuildError(f"Cannot upload {src}: {exc.strerror}.") from None
        if stat.S_ISDIR(info.st_mode):
            comm.upload_dir(dst, src, ctx=self.ctx)
            return
        if dst.endswith("/"):
            dst += os.path.basename(src)
        with open(src, "rb") as f:  # the communicator shows the transfer's progress
            comm.upload(dst, f, mode=stat.S_IMODE(info.st_mode), ctx=self.ctx)

    def _download(self, ui: Ui, comm: Communicator, src: str) -> None:
        dst = self.config.destination
        folder = dst
        if not dst.endswith("/"):
            folder = os.path.dirname(dst)
        elif not src.endswith(("/", "*")):
            dst = os.path.join(dst, os.path.basename(src))
        ui.say(f"Downloading {src} => {dst}")
        if folder:
            os.makedirs(folder, exist_ok=True)
        if src.endswith("/") or _GLOB & set(src):
            comm.download_dir(src, dst, ctx=self.ctx)
            return
        try:
            self._download_file(comm, src, dst)
        except CommunicatorError as exc:
            # the path may name a folder: copy it whole, as rsync does (Packer fails)
            try:
                comm.download_dir(src, self.config.destination, ctx=self.ctx)
            except CommunicatorError:
                raise exc from None

    def _download_file(self, comm: Communicator, src: str, dst: str) -> None:
        """Into a temporary file first: a failed download leaves no half-written file."""
        with atomic_file(dst) as f:
            comm.download(src, f, ctx=self.ctx)
