"""The parse-tree cache: a hit gives the same tree, a damaged entry is only a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.hcl import syntax
from kiln.hcl.diagnostics import Range

TEXT = 'variable "x" {\n  default = "a fairly long value so the text is cached"\n}\n' * 8


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("KILN_PARSE_CACHE", raising=False)
    return tmp_path / "kiln" / "parse"


def entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.pickle")) if cache.exists() else []


def test_a_file_parsed_twice_is_read_from_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = syntax.parse_file(TEXT, "t.pkr.hcl")
    assert len(entries(cache)) == 1

    def no_parser() -> None:
        raise AssertionError("the parser was built although the tree was cached")

    monkeypatch.setattr(syntax, "_parser", no_parser)
    second = syntax.parse_file(TEXT, "t.pkr.hcl")
    assert second.tree == first.tree
    assert second.range == first.range


def test_a_damaged_entry_is_a_miss_and_is_replaced(cache: Path) -> None:
    syntax.parse_file(TEXT, "t.pkr.hcl")
    (entry,) = entries(cache)
    entry.write_bytes(b"not a pickle")
    node = syntax.parse_file(TEXT, "t.pkr.hcl")
    assert node.children()[0].kind == "block"
    assert entry.read_bytes() != b"not a pickle"


def test_different_text_gets_its_own_entry(cache: Path) -> None:
    syntax.parse_file(TEXT, "t.pkr.hcl")
    syntax.parse_file(TEXT + "\n", "t.pkr.hcl")
    assert len(entries(cache)) == 2


def test_the_cache_can_be_turned_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_PARSE_CACHE", "0")
    syntax.parse_file(TEXT, "t.pkr.hcl")
    assert entries(cache) == []


def test_an_unwritable_cache_only_costs_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert syntax.parse_file(TEXT, "t.pkr.hcl").children()[0].kind == "block"


def test_syntax_errors_are_never_cached(cache: Path) -> None:
    from kiln.hcl.diagnostics import DiagnosticError

    bad = TEXT + "broken = \n"
    for _ in range(2):
        with pytest.raises(DiagnosticError):
            syntax.parse_file(bad, "t.pkr.hcl")
    assert entries(cache) == []


def test_a_cached_tree_is_kilns_own_and_keeps_every_position(cache: Path) -> None:
    """The cache holds kiln's tree types, with every token's end position: a heredoc's
    token ends on its closing line whether the tree was parsed or read back."""
    text = 'x = <<EOT\nhello\n  ${a}\nEOT\ny = "two"\n' + TEXT

    def tokens(node: syntax.Node) -> list[tuple[str, str, Range]]:
        tree = node.tree
        assert isinstance(tree, syntax.Tree)
        return [(t.type, str(t), syntax.node_range(t, node.src)) for t in tree.tokens()]

    parsed = tokens(syntax.parse_file(text, "t.pkr.hcl"))
    (entry,) = entries(cache)
    cached = tokens(syntax.parse_file(text, "t.pkr.hcl"))
    assert cached == parsed
    heredoc = next(r for kind, _, r in parsed if kind == "HEREDOC_TEMPLATE")
    assert (heredoc.start.line, heredoc.end.line) == (1, 5)
    assert b"lark" not in entry.read_bytes()


def test_kiln_cache_dir_moves_the_parse_cache_with_the_rest_of_kilns_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "elsewhere"))
    syntax.parse_file(TEXT, "t.pkr.hcl")
    assert entries(cache) == []
    assert len(entries(tmp_path / "elsewhere" / "parse")) == 1
