"""The AWS sessions the builder makes: botocore's data, read faster, is the same data;
EC2's model is cut down to the calls the plugin makes, and kept in kiln's cache."""

from __future__ import annotations

import ast
import gc
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from botocore import xform_name

import kiln_plugin_amazon
from kiln_plugin_amazon.access import (
    EC2_OPERATIONS,
    _collector_paused,
    _undocumented,
    new_client,
    new_session,
)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty kiln cache of this test's own."""
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _botocores(service: str) -> Any:
    return (
        botocore.session.Session()
        .get_component("data_loader")
        .load_service_model(service, "service-2")
    )


def _cached_models(cache: Path) -> list[Path]:
    return sorted((cache / "kiln-plugin-amazon" / "botocore").rglob("*.json"))


def test_service_models_are_plain_dicts_with_botocores_content_and_order() -> None:
    ours = new_session().get_component("data_loader").load_service_model("sts", "service-2")
    expected = _botocores("sts")
    assert isinstance(expected["operations"], OrderedDict)
    assert type(ours["operations"]) is dict
    assert ours == expected
    assert list(ours["operations"]) == list(expected["operations"])
    assert list(ours["shapes"]) == list(expected["shapes"])


def test_the_ec2_model_holds_the_plugins_calls_with_botocores_definitions(cache: Path) -> None:
    ours = new_session().get_component("data_loader").load_service_model("ec2", "service-2")
    full = _botocores("ec2")
    assert set(ours["operations"]) == EC2_OPERATIONS
    assert len(full["operations"]) > 10 * len(EC2_OPERATIONS)
    for name, operation in ours["operations"].items():
        assert operation == _undocumented(full["operations"][name])
    for name, shape in ours["shapes"].items():
        assert shape == _undocumented(full["shapes"][name])
    assert ours["metadata"] == full["metadata"]
    # every shape an operation reaches is there, so botocore can build each request
    client = new_client(new_session(), "ec2", "us-east-1", "http://127.0.0.1:9")
    model = client.meta.service_model
    assert sorted(model.operation_names) == sorted(EC2_OPERATIONS)
    for name in model.operation_names:
        operation = model.operation_model(name)
        for shape in (operation.input_shape, operation.output_shape):
            _walk(shape, set())


def _walk(shape: Any, seen: set[str]) -> None:
    if shape is None or shape.name in seen:
        return
    seen.add(shape.name)
    for member in getattr(shape, "members", {}).values():
        _walk(member, seen)
    for attr in ("member", "key", "value"):
        _walk(getattr(shape, attr, None), seen)


def test_every_ec2_call_in_the_plugins_code_is_in_the_model() -> None:
    """A call missing from EC2_OPERATIONS would be an AttributeError at build time."""
    full = {xform_name(name): name for name in _botocores("ec2")["operations"]}
    called = set()
    for path in Path(kiln_plugin_amazon.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in full:
                called.add(full[node.attr])
    assert sorted(called - EC2_OPERATIONS) == [], "called, but missing from EC2_OPERATIONS"
    assert sorted(EC2_OPERATIONS - called) == [], "in EC2_OPERATIONS, but never called"


def test_the_cut_model_is_kept_in_kilns_cache_and_read_from_it(cache: Path) -> None:
    new_session().get_component("data_loader").load_service_model("ec2", "service-2")
    (cached,) = _cached_models(cache)
    assert botocore.__version__ in cached.parts
    assert set(json.loads(cached.read_bytes())["operations"]) == EC2_OPERATIONS
    # the next session reads the cache, not botocore's model
    model = json.loads(cached.read_bytes())
    model["metadata"]["serviceFullName"] = "read from the cache"
    cached.write_text(json.dumps(model))
    again = new_session().get_component("data_loader").load_service_model("ec2", "service-2")
    assert again["metadata"]["serviceFullName"] == "read from the cache"


def test_a_damaged_cache_entry_is_made_again(cache: Path) -> None:
    new_session().get_component("data_loader").load_service_model("ec2", "service-2")
    (cached,) = _cached_models(cache)
    cached.write_text('{"operations": ')
    model = new_session().get_component("data_loader").load_service_model("ec2", "service-2")
    assert set(model["operations"]) == EC2_OPERATIONS
    assert set(json.loads(cached.read_bytes())["operations"]) == EC2_OPERATIONS


def test_a_cache_that_cannot_be_written_costs_only_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("KILN_CACHE_DIR", str(blocker))
    client = new_client(new_session(), "ec2", "us-east-1", "http://127.0.0.1:9")
    assert sorted(client.meta.service_model.operation_names) == sorted(EC2_OPERATIONS)


def test_a_users_own_ec2_model_is_read_whole(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model in AWS_DATA_PATH (or ~/.aws/models) comes before botocore's; kiln does not
    cut it down."""
    folder = tmp_path / "models" / "ec2" / "2016-11-15"
    folder.mkdir(parents=True)
    model = _botocores("ec2")
    model["metadata"]["serviceFullName"] = "the user's own"
    (folder / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    ours = new_session().get_component("data_loader").load_service_model("ec2", "service-2")
    assert ours["metadata"]["serviceFullName"] == "the user's own"
    assert len(ours["operations"]) == len(model["operations"])
    assert not _cached_models(cache)


def test_an_unknown_service_is_still_botocores_error() -> None:
    loader = new_session().get_component("data_loader")
    with pytest.raises(botocore.exceptions.UnknownServiceError, match="ec2"):
        loader.load_service_model("no-such-service", "service-2")


def test_the_collector_is_paused_only_while_a_client_is_made() -> None:
    assert gc.isenabled()
    try:
        with _collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        gc.unfreeze()  # the test session's objects, frozen with the block's


def test_a_paused_collector_stays_paused() -> None:
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
