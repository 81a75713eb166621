"""Post-processor chains in kiln build: Packer's rules for which artifacts survive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result


def write(tmp_path: Path, build: str) -> Path:
    path = tmp_path / "t.pkr.hcl"
    path.write_text(
        f'source "file" "f" {{\n  content = "data"\n  target = "{tmp_path}/out.txt"\n}}\n'
        f'build {{\n  sources = ["source.file.f"]\n{build}\n}}\n'
    )
    return path


def test_without_post_processors_the_builder_artifact_is_the_result(
    kiln: Callable[..., Result], tmp_path: Path
) -> None:
    result = kiln("build", "-color=false", str(write(tmp_path, "")))
    assert result.code == 0
    assert f"--> file.f: Stored file: {tmp_path}/out.txt" in result.out


def test_a_post_processor_that_does_not_keep_its_input_deletes_it(
    kiln: Callable[..., Result], tmp_path: Path
) -> None:
    build = f'  post-processor "compress" {{\n    output = "{tmp_path}/out.tar.gz"\n  }}'
    result = kiln("build", "-color=false", str(write(tmp_path, build)))
    assert result.code == 0, result.err
    assert (tmp_path / "out.tar.gz").is_file()
    assert not (tmp_path / "out.txt").exists()
    assert "Stored file" not in result.out


def test_keep_input_artifact_keeps_it(kiln: Callable[..., Result], tmp_path: Path) -> None:
    build = (
        f'  post-processor "compress" {{\n    output = "{tmp_path}/out.tar.gz"\n'
        "    keep_input_artifact = true\n  }"
    )
    result = kiln("build", "-color=false", str(write(tmp_path, build)))
    assert result.code == 0, result.err
    assert (tmp_path / "out.txt").is_file() and (tmp_path / "out.tar.gz").is_file()
    assert "--> file.f: Stored file" in result.out


def test_chains_feed_each_result_to_the_next(kiln: Callable[..., Result], tmp_path: Path) -> None:
    build = f"""
  post-processors {{
    post-processor "compress" {{
      output              = "{tmp_path}/out.tar.gz"
      keep_input_artifact = true
    }}
    post-processor "checksum" {{
      checksum_types = ["sha256"]
      output         = "{tmp_path}/sums"
    }}
  }}"""
    result = kiln("build", "-color=false", str(write(tmp_path, build)))
    assert result.code == 0, result.err
    assert (tmp_path / "sums").read_text().endswith("\tout.tar.gz\n")


def test_except_names_a_post_processor_and_cuts_the_rest_of_its_chain(
    kiln: Callable[..., Result], tmp_path: Path
) -> None:
    build = f"""
  post-processors {{
    post-processor "compress" {{
      name                = "pack"
      output              = "{tmp_path}/out.tar.gz"
      keep_input_artifact = true
    }}
    post-processor "checksum" {{
      output = "{tmp_path}/sums"
    }}
  }}
  post-processor "shell-local" {{
    inline = ["touch {tmp_path}/other-chain"]
  }}"""
    result = kiln("build", "-color=false", "-except=pack", str(write(tmp_path, build)))
    assert result.code == 0, result.err
    assert not (tmp_path / "out.tar.gz").exists() and not (tmp_path / "sums").exists()
    assert (tmp_path / "other-chain").exists()


def test_only_on_a_post_processor_limits_it_to_some_sources(
    kiln: Callable[..., Result], tmp_path: Path
) -> None:
    build = f"""
  post-processor "shell-local" {{
    only   = ["file.other"]
    inline = ["touch {tmp_path}/ran"]
  }}"""
    assert kiln("build", str(write(tmp_path, build))).code == 0
    assert not (tmp_path / "ran").exists()


def test_a_failing_post_processor_fails_the_build(
    kiln: Callable[..., Result], tmp_path: Path
) -> None:
    build = '  post-processor "shell-local" {\n    inline = ["exit 4"]\n  }'
    result = kiln("build", "-color=false", str(write(tmp_path, build)))
    assert result.code == 1
    assert "--> file.f: " in result.err and "4" in result.err
