"""`quick_init`: the same instances, signature and errors as the dataclass's own ``__init__``."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from collector._frozen import quick_init
from collector.model import Event, EventIdentity, FlowSnapshot, FlowStatus, Location, Observation

AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _generated(cls: type) -> type:
    """The same dataclass as ``cls`` with the ``__init__`` dataclasses generates."""
    fields = [(f.name, f.type, dataclasses.field(default=f.default))
              if f.default is not dataclasses.MISSING else (f.name, f.type)
              for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


@pytest.mark.parametrize("cls", [Location, Observation, EventIdentity, Event, FlowSnapshot])
def test_same_signature_as_the_generated_init(cls: type) -> None:
    assert str(inspect.signature(cls.__init__)) == str(
        inspect.signature(_generated(cls).__init__))


def test_same_values_defaults_and_immutability() -> None:
    loc = Location("kafka", "orders", 2, 7)
    event = Event("e1", "OrderPlaced", "shop", AT, "c1", {"n": 1}, loc, AT, subject="s")
    assert dataclasses.astuple(event) == dataclasses.astuple(
        _generated(Event)("e1", "OrderPlaced", "shop", AT, "c1", {"n": 1}, loc, AT, subject="s"))
    assert event.business_keys == ()
    assert event.headers == ()
    assert event.time_text is None
    assert Location("k") == Location("k", None, None, None)
    assert hash(Location("k", "t", 1, 2)) == hash(Location("k", "t", 1, 2))
    assert Observation(loc, AT, b"v").headers == ()
    assert FlowSnapshot("i", "c", "f", 1, FlowStatus.RUNNING, AT, AT, "T", 1).recovered is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.id = "e2"  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'source'"):
        Location()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Location("k", colour=1)  # type: ignore[call-arg]


def test_refuses_what_it_cannot_copy() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    for cls in (Mutable, Factory):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)
