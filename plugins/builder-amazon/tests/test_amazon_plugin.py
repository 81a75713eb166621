"""The plugin's registration and its generated reference pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.testing import check_reference_pages
from kiln_plugin_amazon import plugin
from kiln_plugin_amazon.reaper import AmazonReaper

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_plugin_registers_its_components(register_plugin: Callable[..., Any]) -> None:
    pm = register_plugin(plugin)
    assert "amazon-ebs" in pm.builders()
    assert "amazon-ami" in pm.datasources()
    assert pm.reapers()["amazon"].reaper is AmazonReaper


def test_the_reference_pages_in_docs_are_current() -> None:
    check_reference_pages(DOCS, "kiln-plugin-amazon")
