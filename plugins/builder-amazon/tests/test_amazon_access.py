"""The AWS sessions the builder makes: botocore's data, read faster, is the same data."""

from __future__ import annotations

import gc
from collections import OrderedDict

import botocore.session

from kiln_plugin_amazon.access import _collector_paused, new_session


def test_service_models_are_plain_dicts_with_botocores_content_and_order() -> None:
    ours = new_session().get_component("data_loader").load_service_model("ec2", "service-2")
    theirs = botocore.session.Session().get_component("data_loader")
    expected = theirs.load_service_model("ec2", "service-2")
    assert isinstance(expected["operations"], OrderedDict)
    assert type(ours["operations"]) is dict
    assert ours == expected
    assert list(ours["operations"]) == list(expected["operations"])
    assert list(ours["shapes"]) == list(expected["shapes"])


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
