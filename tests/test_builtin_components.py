"""kiln's built-in components, one at a time: prepare's checks and what each one does."""

from __future__ import annotations

import pytest

from kiln.sdk import ConfigError, interpolate

# -- placeholders ------------------------------------------------------------------------


def test_interpolate_fills_placeholders_with_or_without_spaces() -> None:
    text = interpolate(
        "chmod +x {{.Path}}; {{ .Vars }} {{.Path}}", {"Path": "/tmp/s", "Vars": "A=1"}
    )
    assert text == "chmod +x /tmp/s; A=1 /tmp/s"


def test_interpolate_leaves_other_braces_alone() -> None:
    assert interpolate("docker inspect -f '{{json .Id}}' {{.X}}", {"X": "c"}) == (
        "docker inspect -f '{{json .Id}}' c"
    )


def test_interpolate_names_the_known_placeholders_for_an_unknown_one() -> None:
    with pytest.raises(ConfigError) as err:
        interpolate("run {{.Pth}}", {"Path": "", "Vars": ""}, option="execute_command")
    assert err.value.option == "execute_command"
    assert "{{.Pth}}" in err.value.message
    assert "{{.Path}}, {{.Vars}}" in err.value.message
