"""The ``compress`` post-processor: pack an artifact's files into one archive.

The archive modules are imported when an archive is written: ``kiln validate`` loads
this module with every other built-in component, and needs none of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import IO, BinaryIO, cast

from kiln.sdk import (
    Artifact,
    BuildError,
    Config,
    ConfigError,
    Context,
    PostProcessor,
    Ui,
    atomic_file,
    interpolate,
    option,
)

BUILDER_ID = "packer.post-processor.compress"
CHUNK = 1 << 20
#: archive format by file name ending, longest first: (archive, compression)
FORMATS = {
    ".tar.gz": ("tar", "gzip"),
    ".tgz": ("tar", "gzip"),
    ".tar.xz": ("tar", "xz"),
    ".tar": ("tar", ""),
    ".zip": ("zip", ""),
    ".gz": ("", "gzip"),
    ".xz": ("", "xz"),
}


class CompressConfig(Config):
    output: str = option(
        "packer_{{.BuildName}}_{{.BuilderType}}.tar.gz",
        doc="The archive to write, with placeholders `{{.BuildName}}` and `{{.BuilderType}}`. "
        "Its ending picks the format: " + ", ".join(FORMATS) + " (the last two compress a "
        "single file). Files go into tar and zip archives under their base names. An "
        "existing archive is only replaced with `-force`.",
    )
    format: str = option(
        "", doc="The format, when `output` does not end with it (`tar.gz`, `zip`...)."
    )
    compression_level: int = option(
        6,
        doc="From 1 (fastest) to 9 (smallest); 0 stores without compressing, -1 means the "
        "default (6).",
    )


class Compress(PostProcessor):
    """Packs the artifact's files into a tar, zip, gzip or xz archive.

    The archive is written to a temporary file and renamed when complete, so a failed
    or cancelled build leaves no half-written archive. The input artifact is deleted
    unless `keep_input_artifact = true`.
    """

    config_class = CompressConfig
    config: CompressConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, CompressConfig)
        interpolate(config.output, self._values(), option="output")
        if not -1 <= config.compression_level <= 9:
            raise ConfigError(
                f"Invalid compression level {config.compression_level}: use an integer from "
                "-1 to 9.",
                option="compression_level",
            )
        self.level = 6 if config.compression_level == -1 else config.compression_level
        name = config.output + ("." + config.format.lstrip(".") if config.format else "")
        found = next((fmt for end, fmt in FORMATS.items() if name.endswith(end)), None)
        if found is None and config.format:
            raise ConfigError(
                f'Unknown format "{config.format}": use one of '
                + ", ".join(end.lstrip(".") for end in FORMATS)
                + ".",
                option="format",
            )
        self.archive, self.compression = found or ("tar", "gzip")
        if found is None:
            return [
                f'The compress output "{config.output}" does not end with a known format ('
                + ", ".join(FORMATS)
                + "); it will be a gzip-compressed tar archive, as Packer writes."
            ]
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        target = interpolate(self.config.output, self._values(), option="output")
        if os.path.exists(target) and not self.ctx.force:
            raise BuildError(
                f"The archive {target} already exists. Remove it, or run with -force to replace it."
            )
        files = list(artifact.files)
        if not self.archive and len(files) != 1:
            raise BuildError(
                f"Can only have 1 input file when not using tar/zip. Found {len(files)} "
                f"files: {files}. Write a .tar.gz or .zip archive instead."
            )
        names = [os.path.basename(os.path.normpath(path)) for path in files]
        if len(set(names)) != len(names):
            raise BuildError(f"Two files of the artifact share a name in the archive: {files}.")
        # written beside the target and renamed at the end: a failure leaves no half archive
        with atomic_file(target) as out:
            self._write(ui, target, files, out)
        ui.say(f"Archive {target} completed")
        result = Artifact(
            BUILDER_ID, files=[target], description=f"compressed artifacts in: {target}"
        )
        return result, False, False

    def _values(self) -> dict[str, str]:
        return {"BuildName": self.ctx.build_name, "BuilderType": self.ctx.builder_type}

    def _write(self, ui: Ui, target: str, files: list[str], out: IO[bytes]) -> None:
        import tarfile

        compression = self.compression or "no compression"
        try:
            if self.archive == "zip":
                ui.say(f"Zipping {target}")
                self._zip(files, out)
            elif self.archive == "tar":
                ui.say(f"Tarring {target} with {compression}")
                with self._compressor(out) as stream, tarfile.open(fileobj=stream, mode="w") as tar:
                    for path, name in _walk(files):
                        with open(path, "rb") as f:
                            tar.addfile(tar.gettarinfo(path, name), _Checked(self.ctx, f))
            else:
                ui.say(f"Archiving {files[0]} with {compression}")
                with self._compressor(out) as stream, open(files[0], "rb") as f:
                    shutil.copyfileobj(_Checked(self.ctx, f), stream, CHUNK)
        except OSError as exc:
            raise BuildError(f"Error creating the archive {target}: {exc}") from exc

    def _compressor(self, out: IO[bytes]) -> AbstractContextManager[BinaryIO]:
        if self.compression == "gzip":
            import gzip

            gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=self.level, mtime=0)
            return cast(AbstractContextManager[BinaryIO], gz)
        if self.compression == "xz":
            import lzma

            return cast(
                AbstractContextManager[BinaryIO], lzma.LZMAFile(out, "wb", preset=self.level)
            )
        return nullcontext(cast(BinaryIO, out))  # a plain tar: nothing to close but the file

    def _zip(self, files: list[str], out: IO[bytes]) -> None:
        import zipfile

        method = zipfile.ZIP_DEFLATED if self.level else zipfile.ZIP_STORED
        with zipfile.ZipFile(out, "w", method, compresslevel=self.level or None) as zf:
            for path, name in _walk(files):
                with open(path, "rb") as src, zf.open(name, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(_Checked(self.ctx, src), dst, CHUNK)


class _Checked:
    """A file read through, stopping when the build is cancelled."""

    def __init__(self, ctx: Context, f: IO[bytes]) -> None:
        self.ctx = ctx
        self.f = f

    def read(self, size: int = -1) -> bytes:
        self.ctx.check()
        return self.f.read(size)


def _walk(files: list[str]) -> Iterator[tuple[str, str]]:
    """(path, name in the archive) of each file, folders expanded."""
    for path in files:
        base = os.path.basename(os.path.normpath(path))
        if not os.path.isdir(path):
            yield path, base
            continue
        for root, _, names in os.walk(path):
            for name in sorted(names):
                full = os.path.join(root, name)
                yield full, os.path.join(base, os.path.relpath(full, path)).replace(os.sep, "/")
