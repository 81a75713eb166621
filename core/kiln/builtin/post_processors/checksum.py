"""The ``checksum`` post-processor: write checksum files for an artifact's files."""

from __future__ import annotations

import hashlib
import os
import threading

from kiln.sdk import (
    Artifact,
    BuildError,
    Config,
    ConfigError,
    PostProcessor,
    Ui,
    interpolate,
    option,
    write_atomically,
)

BUILDER_ID = "packer.post-processor.checksum"
TYPES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
CHUNK = 1 << 20
#: parallel builds may share one checksum file; one writer at a time
_write_lock = threading.Lock()


class ChecksumConfig(Config):
    checksum_types: list[str] = option(
        default_factory=lambda: ["md5"],
        doc="Checksums to compute, any of: " + ", ".join(TYPES) + ".",
    )
    output: str = option(
        "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum",
        doc="The checksum file, with placeholders `{{.BuildName}}`, `{{.BuilderType}}` and "
        "`{{.ChecksumType}}`. Each line is `<hex digest><tab><file name>`, as `sha256sum "
        "-c` reads. Unlike Packer, which appends, a new run replaces the lines for the "
        "same file names, so re-running a build leaves no stale or duplicate lines.",
    )


class Checksum(PostProcessor):
    """Writes checksums (md5, sha256...) of the artifact's files to checksum files.

    Each file is read once, whatever the number of `checksum_types`. The new artifact
    lists the input's files and the checksum files, so the input is always kept.
    """

    config_class = ChecksumConfig
    config: ChecksumConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, ChecksumConfig)
        for name in config.checksum_types:
            if name not in TYPES:
                raise ConfigError(
                    f"Unrecognized checksum type: {name}. Use one of: {', '.join(TYPES)}.",
                    option="checksum_types",
                )
        interpolate(config.output, self._values(""), option="output")
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        digests = {path: self._digests(path) for path in artifact.files}
        outputs: list[str] = []
        for kind in self.config.checksum_types:
            target = interpolate(self.config.output, self._values(kind), option="output")
            lines = {
                os.path.basename(p): f"{d[kind]}\t{os.path.basename(p)}\n"
                for p, d in digests.items()
            }
            ui.say(f"Writing {kind} checksums to {target}")
            _merge(target, lines)
            if target not in outputs:
                outputs.append(target)
        files = [*artifact.files, *(p for p in outputs if p not in artifact.files)]
        result = Artifact(
            BUILDER_ID, files=files, description="Created artifact from files: " + ", ".join(files)
        )
        # keep (and force it): the new artifact lists the input's files as its own
        return result, True, True

    def _values(self, kind: str) -> dict[str, str]:
        return {
            "BuildName": self.ctx.build_name,
            "BuilderType": self.ctx.builder_type,
            "ChecksumType": kind,
        }

    def _digests(self, path: str) -> dict[str, str]:
        """Every configured digest of ``path``, reading it once."""
        hashes = {kind: hashlib.new(kind) for kind in self.config.checksum_types}
        try:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    self.ctx.check()
                    for h in hashes.values():
                        h.update(chunk)
        except OSError as exc:
            raise BuildError(f"Unable to read {path} to checksum it: {exc.strerror}.") from None
        return {kind: h.hexdigest() for kind, h in hashes.items()}


def _merge(target: str, lines: dict[str, str]) -> None:
    """Write ``lines`` (by file name) into ``target``, keeping other files' lines."""
    with _write_lock:
        kept: list[str] = []
        try:
            with open(target, encoding="utf-8") as f:
                kept = [line for line in f if line.rstrip("\n").split("\t")[-1] not in lines]
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BuildError(
                f"Unable to read the checksum file {target}: {exc.strerror}."
            ) from None
        try:
            write_atomically(target, "".join([*kept, *lines.values()]).encode())
        except OSError as exc:
            raise BuildError(
                f"Unable to write the checksum file {target}: {exc.strerror}."
            ) from None
