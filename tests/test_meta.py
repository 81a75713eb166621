"""Meta-tests: every hook a plugin can implement is tested and documented, and the
generated component reference is current."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from kiln.plugins.hookspec import KilnSpecs
from kiln.plugins.manager import make_manager
from kiln.testing import check_reference_pages

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, _ in inspect.getmembers(KilnSpecs, inspect.isfunction))


def test_there_is_one_hook_per_component_kind_and_one_for_reapers() -> None:
    assert HOOKS == [
        "kiln_builders",
        "kiln_datasources",
        "kiln_post_processors",
        "kiln_provisioners",
        "kiln_reapers",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    users = [
        p.name
        for p in (ROOT / "tests").glob("test_*.py")
        if p.name != "test_meta.py" and hook in p.read_text()
    ]
    assert users, f"no test implements or calls {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_documentation_section(hook: str) -> None:
    guide = (ROOT / "docs" / "plugin-authoring.md").read_text()
    assert f"### `{hook}`" in guide


def test_the_component_reference_in_docs_is_current() -> None:
    check_reference_pages(ROOT / "docs" / "components", "kiln")


def test_every_option_of_every_builtin_component_is_documented() -> None:
    pm = make_manager()
    for specs in (pm.builders(), pm.provisioners(), pm.post_processors()):
        for spec in specs.values():
            assert spec.summary, f"{spec.kind} {spec.name} has no summary"
            for option in spec.component.config_class.options().values():
                assert option.doc, f"{spec.kind} {spec.name}: option {option.name} has no doc"
