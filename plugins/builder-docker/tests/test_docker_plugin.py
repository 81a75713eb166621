"""The plugin's registration and its generated reference pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.plugins.manager import make_manager
from kiln.plugins.reference import pages
from kiln_plugin_docker import plugin

DOCS = Path(__file__).resolve().parent.parent / "docs"
DISTRIBUTION = "kiln-plugin-docker"


def test_the_plugin_registers_its_components(register_plugin: Callable[..., Any]) -> None:
    pm = register_plugin(plugin)
    assert set(pm.builders()) >= {"docker"}
    assert {"docker-import", "docker-tag", "docker-push", "docker-save"} <= set(
        pm.post_processors()
    )


def test_every_option_is_documented() -> None:
    pm = make_manager()
    specs = [pm.builders()["docker"]] + [
        spec for name, spec in pm.post_processors().items() if name.startswith("docker-")
    ]
    for spec in specs:
        assert spec.summary, f"{spec.kind} {spec.name} has no summary"
        for option in spec.component.config_class.options().values():
            assert option.doc, f"{spec.kind} {spec.name}: option {option.name} has no doc"


def test_the_reference_pages_in_docs_are_current() -> None:
    expected = pages(make_manager(), DISTRIBUTION)
    found = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}
    assert found == expected, (
        "plugins/builder-docker/docs is out of date; run '.venv/bin/python -m "
        "kiln.plugins.reference plugins/builder-docker/docs kiln-plugin-docker'"
    )
