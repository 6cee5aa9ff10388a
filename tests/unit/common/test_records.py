"""The records' constructors without __init__ (libs/common/records.py) against the
records' own constructors: for every record the notifier builds that way, any field
values give an object of the same type, equal, with the same hash and repr, as frozen."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.common.kafka.consumer import Delivery
from libs.common.records import dict_constructor, slot_constructor, tuple_constructor
from services.notifier.decisions import ChatNotice, MailNotice, Plan, Suppression, WebhookNotice
from services.notifier.handler import ChatAccepted, ClaimedChat, Job, Sent
from services.notifier.mail import MailMeta, OutgoingMail, Threading
from services.notifier.rendering import Rendered
from services.notifier.sentlog import Finish, SendInfo, SendKey, SentRecord
from services.router.service.interactions import Incoming


@dataclass(frozen=True, slots=True)
class NamedLikeTheBuilder:
    """Fields named as the generated function's own names were (``record = _new(_cls)``,
    ``_set_<field>``): a field ``record`` was set to the object itself."""

    record: Any
    _new: Any
    _cls: Any
    _set_record: Any


DATACLASSES = [
    NamedLikeTheBuilder,
    Delivery,
    MailNotice,
    ChatNotice,
    WebhookNotice,
    Suppression,
    Plan,
    MailMeta,
    Threading,
    OutgoingMail,
    Rendered,
    ClaimedChat,
    ChatAccepted,
    Sent,
]
NAMED_TUPLES = [Job, SendInfo, SendKey, Finish, SentRecord]


@dataclass(frozen=True)
class NamedLikeTheDictBuilder:
    """Fields named as ``dict_constructor``'s function's own locals would be."""

    record: Any
    dict: Any
    _new: Any


#: frozen dataclasses with a ``__dict__`` (``dict_constructor``)
DICT_DATACLASSES = [NamedLikeTheDictBuilder, Incoming]

#: hashable values of several types: the constructors do not look at them
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.binary())


#: (constructor, record) for every record each dataclass constructor is used for
CONSTRUCTED = [(slot_constructor, record) for record in DATACLASSES] + [
    (dict_constructor, record) for record in DICT_DATACLASSES
]


@pytest.mark.parametrize(
    ("constructor", "record"),
    CONSTRUCTED,
    ids=lambda v: getattr(v, "__name__", str(v)),
)
@given(data=st.data())
def test_a_constructor_builds_the_dataclass_own_object(
    constructor: Any, record: type, data: Any
) -> None:
    given_values = [data.draw(values) for _ in fields(record)]
    fast = constructor(record)(*given_values)
    own = record(*given_values)
    assert type(fast) is record
    assert fast == own
    assert hash(fast) == hash(own)
    assert repr(fast) == repr(own)
    assert dataclasses.astuple(fast) == dataclasses.astuple(own)
    if not hasattr(record, "__slots__"):
        assert vars(fast) == vars(own)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.__setattr__(fields(record)[0].name, None)
    by_name = {f.name: v for f, v in zip(fields(record), given_values, strict=True)}
    assert constructor(record)(**by_name) == own


@pytest.mark.parametrize("record", DATACLASSES, ids=lambda c: c.__name__)
def test_slot_constructor_takes_the_fields_by_name(record: type) -> None:
    by_name = {f.name: f"v{i}" for i, f in enumerate(fields(record))}
    assert slot_constructor(record)(**by_name) == record(**by_name)
    with pytest.raises(TypeError):
        slot_constructor(record)()  # no defaults: every field said


@pytest.mark.parametrize("record", NAMED_TUPLES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_tuple_constructor_builds_the_named_tuple(record: type, data: Any) -> None:
    given_values = tuple(data.draw(values) for _ in record._fields)
    fast = tuple_constructor(record)(given_values)
    own = record(*given_values)
    assert type(fast) is record
    assert fast == own
    assert hash(fast) == hash(own)
    assert repr(fast) == repr(own)
    assert fast._asdict() == own._asdict()


def test_slot_constructor_refuses_what_it_would_build_differently() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class NotInInit:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    @dataclass(frozen=True, slots=True)
    class OwnName:
        _slot_constructor_record: int

    for record in (NoSlots, NotFrozen, PostInit, NotInInit, OwnName):
        with pytest.raises(TypeError):
            slot_constructor(record)
    with pytest.raises(TypeError):
        tuple_constructor(tuple)


def test_dict_constructor_refuses_what_it_would_build_differently() -> None:
    @dataclass(frozen=True, slots=True)
    class Slots:
        a: int

    @dataclass
    class NotFrozen:
        a: int

    @dataclass(frozen=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class NotInInit:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    @dataclass(frozen=True)
    class OwnName:
        _slot_constructor_dict: int

    for record in (Slots, NotFrozen, PostInit, NotInInit, OwnName, int):
        with pytest.raises(TypeError):
            dict_constructor(record)
