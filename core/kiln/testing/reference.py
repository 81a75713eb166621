"""Checks of a plugin's documentation, for its test suite::

    from kiln.testing import check_reference_pages

    def test_the_reference_pages_are_current():
        check_reference_pages(Path(__file__).parent.parent / "docs", "kiln-plugin-say")

The pages are the ones ``python -m kiln.plugins.reference DOCS DISTRIBUTION`` writes
from the components' declared options.
"""

from __future__ import annotations

from pathlib import Path


def check_reference_pages(docs: Path, distribution: str) -> None:
    """Fail (AssertionError) unless ``docs`` holds exactly the reference pages of the
    installed ``distribution``'s components, as generated, and every component has a
    summary and every option a doc."""
    # here: kiln.testing loads with every pytest run, few tests check the pages
    from kiln.plugins.manager import make_manager
    from kiln.plugins.reference import all_specs, pages

    pm = make_manager()
    for spec in all_specs(pm):
        if pm.provider_of(spec).distribution != distribution:
            continue
        assert spec.summary, f"{spec.kind} {spec.name} has no summary (a docstring)"
        for option in spec.component.config_class.options().values():
            assert option.doc, f"{spec.kind} {spec.name}: option {option.name} has no doc"
    expected = pages(pm, distribution)
    found = {p.name: p.read_text(encoding="utf-8") for p in docs.glob("*.md")}
    assert found == expected, (
        f"{docs} is out of date; run '.venv/bin/python -m kiln.plugins.reference "
        f"{docs} {distribution}'"
    )
