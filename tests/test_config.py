"""A component's Config declaration: a keyword-only dataclass from its first use.

The class is made a dataclass when it is first instantiated or asked for its options
(not when it is defined, so that loading every installed plugin stays cheap); these
tests pin that what a component author sees is the same either way.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from kiln.sdk import Config, option


def test_a_config_made_first_is_a_keyword_only_dataclass() -> None:
    class Made(Config):
        name: str = option(required=True, doc="A name.")
        tags: dict[str, str] = option(default_factory=dict, doc="Tags.")

    made = Made(name="a")
    assert dataclasses.is_dataclass(made)
    assert [f.name for f in dataclasses.fields(made)] == ["name", "tags"]
    assert made == Made(name="a", tags={})
    assert (
        repr(made)
        == "test_a_config_made_first_is_a_keyword_only_dataclass.<locals>.Made(name='a', tags={})"
    )
    with pytest.raises(TypeError):
        Made("a")  # type: ignore[call-arg]


def test_options_of_a_subclass_list_the_bases_options_first() -> None:
    class Base(Config):
        region: str = option(default="", doc="The region.")

    class Mixin(Config):
        retries: int = option(default=3, doc="Retries.")

    class Derived(Base, Mixin):
        size: int = option(default=8, doc="The size.")

    # asked before any of the three was used
    assert list(Derived.options()) == ["retries", "region", "size"]
    assert Derived(size=9) == Derived(retries=3, region="", size=9)
    assert list(Base.options()) == ["region"]
    assert Base(region="x").region == "x"


def test_a_base_used_first_keeps_its_own_options() -> None:
    class Base(Config):
        region: str = option(default="", doc="The region.")

    class Derived(Base):
        size: int = option(default=8, doc="The size.")

    assert Base().region == ""
    assert Derived().size == 8
    assert list(Derived.options()) == ["region", "size"]
    assert list(Base.options()) == ["region"]


def test_a_config_first_made_by_many_threads_at_once_gets_every_default() -> None:
    class Shared(Config):
        items: list[str] = option(default_factory=list, doc="Items.")
        count: int = option(default=1, doc="A count.")

    start = threading.Barrier(8)
    made: list[Shared] = []

    def make() -> None:
        start.wait()
        made.append(Shared())

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [Shared(items=[], count=1)] * 8
    assert list(Shared.options()) == ["items", "count"]


def test_a_config_made_by_another_thread_while_it_becomes_a_dataclass_is_whole() -> None:
    """Another thread that meets the class while it is being made a dataclass (its
    fields set, its ``__init__`` not yet) waits for it: it never gets an instance
    without its defaults."""
    made: list[object] = []

    def make_other() -> None:
        try:
            made.append(Half())
        except Exception as exc:  # the instance could not even be made
            made.append(exc)

    class Midway:
        """A ``__post_init__`` that dataclasses looks up once the fields are set and
        before ``__init__`` is: the moment another thread meets the class."""

        def __init__(self) -> None:
            self.met = False

        def __get__(self, instance: object, owner: type) -> object:
            if instance is None and not self.met:
                self.met = True
                other = threading.Thread(target=make_other)
                other.start()
                other.join(0.5)  # it waits for the class to be whole: not for long
            return lambda *args: None

    class Half(Config):
        items: list[str] = option(default_factory=list, doc="Items.")
        count: int = option(default=1, doc="A count.")
        __post_init__ = Midway()

    first = Half()
    deadline = time.monotonic() + 10
    while not made and time.monotonic() < deadline:
        time.sleep(0.01)
    (other,) = made
    assert isinstance(other, Half), other
    assert (other.items, other.count) == ([], 1)
    assert other == first
