"""Deterministic ids are UUIDv5 exactly (a changed id would redo work on redelivery);
time-ordered ids are UUIDv8 of the event's time and the same name hash."""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.ids import (
    OMNIDESK_NAMESPACE,
    ORDINALS,
    deterministic_id,
    name_prefix,
    ordinal_id,
    ordinal_id_stem,
    time_ordered_id,
    time_ordered_id_beside,
    time_ordered_id_beside_last,
    time_ordered_id_named,
)

parts = st.one_of(st.none(), st.integers(), st.text())


@given(kind=st.text(min_size=1), values=st.lists(parts, min_size=1, max_size=4))
def test_same_as_the_standard_library_uuid5(kind, values):
    name = "\x1f".join([kind, *("" if p is None else str(p) for p in values)])
    assert deterministic_id(kind, *values) == str(uuid.uuid5(OMNIDESK_NAMESPACE, name))


def test_known_value_never_changes():
    # pinned: every stored outbox/conversation id was derived this way
    assert deterministic_id("router.outbox", "ev-1", 0) == "931d1921-de59-5e6c-8a9c-c482595bdaff"


# --- time_ordered_id: UUIDv8 with the event's time first (RFC 9562 §5.8) ---

instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@given(kind=st.text(min_size=1), at=instants, values=st.lists(parts, min_size=1, max_size=4))
def test_time_ordered_id_is_a_version_8_uuid_of_the_event_time_and_the_v5_hash(kind, at, values):
    made = time_ordered_id(kind, at, *values)
    parsed = uuid.UUID(made)
    assert str(parsed) == made
    assert parsed.version == 8
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    # the bits after the version are the UUIDv5's (same name hash): 74 bits of it
    v5 = uuid.UUID(deterministic_id(kind, *values)).int
    mask = ((1 << 12) - 1) << 64 | ((1 << 62) - 1)
    assert parsed.int & mask == v5 & mask
    assert time_ordered_id(kind, at, *values) == made  # a replay yields the same id


@given(first=instants, second=instants, a=st.text(), b=st.text())
def test_time_ordered_ids_sort_as_their_times_to_the_millisecond(first, second, a, b):
    ms = timedelta(milliseconds=1)
    earlier, later = sorted([first, second])
    if (later - datetime(1970, 1, 1, tzinfo=UTC)) // ms > (
        earlier - datetime(1970, 1, 1, tzinfo=UTC)
    ) // ms:
        assert time_ordered_id("k", earlier, a) < time_ordered_id("k", later, b)


def test_time_ordered_id_known_value_never_changes():
    # pinned: stored conversation ids were derived this way
    at = datetime(2026, 11, 28, 23, 30, 1, 234567, tzinfo=UTC)
    # 0x01a2247e8592 ms since the Unix epoch, version 8, then the name's SHA-1 bits
    assert time_ordered_id("router.conversation", at, "ev-1") == (
        "01a2247e-8592-8f16-8548-8b0e1a9ff576"
    )


def test_time_ordered_id_refuses_naive_times_and_no_parts():
    with pytest.raises(ValueError, match="aware"):
        time_ordered_id("router.conversation", datetime(2026, 1, 1), "ev-1")
    with pytest.raises(ValueError, match="identifying part"):
        time_ordered_id("router.conversation", datetime(2026, 1, 1, tzinfo=UTC))


@given(at=instants, anchor_part=st.text(), values=st.lists(parts, min_size=1, max_size=4))
def test_an_id_beside_a_time_ordered_one_has_its_time(at, anchor_part, values):
    anchor = time_ordered_id("router.conversation", at, anchor_part)
    beside = time_ordered_id_beside(anchor, "router.outbox", *values)
    assert beside == time_ordered_id("router.outbox", at, *values)


@given(values=st.lists(parts, min_size=1, max_size=4))
def test_an_id_beside_an_older_uuid5_is_the_uuid5_it_always_was(values):
    anchor = deterministic_id("router.conversation", "ev-1")
    assert time_ordered_id_beside(anchor, "router.outbox", *values) == deterministic_id(
        "router.outbox", *values
    )


@given(
    at=instants,
    kind=st.text(min_size=1),
    values=st.lists(parts, max_size=3),
    last=st.one_of(st.integers(), st.text()),
    time_ordered=st.booleans(),
)
def test_an_id_from_a_name_prefix_is_the_id_beside_of_the_whole_name(
    at, kind, values, last, time_ordered
):
    # the outbox's ids: one prefix per cause, then each event's ordinal
    anchor = (
        time_ordered_id("router.conversation", at, "ev-1")
        if time_ordered
        else deterministic_id("router.conversation", "ev-1")
    )
    assert time_ordered_id_beside_last(
        anchor, name_prefix(kind, *values), last
    ) == time_ordered_id_beside(anchor, kind, *values, last)


@given(
    at=instants,
    causes=st.lists(
        st.tuples(st.text(min_size=1), st.lists(st.one_of(st.integers(), st.text()), max_size=4)),
        min_size=1,
        max_size=4,
    ),
    time_ordered=st.booleans(),
)
@settings(suppress_health_check=[HealthCheck.too_slow])  # lists of lists, a loaded machine
def test_ids_from_a_reused_prefix_and_anchor_are_the_ids_beside(at, causes, time_ordered):
    # the outbox hands one prefix and one anchor object over for each of a cause's events:
    # the hash state and the anchor's digits kept for them give the same ids, and a new
    # prefix or anchor (the next cause, a conversation of another kind) is not mixed up
    for n, (cause, lasts) in enumerate(causes):
        anchor = (
            time_ordered_id("router.conversation", at, "ev", n)
            if time_ordered or n % 2
            else deterministic_id("router.conversation", "ev", n)
        )
        prefix = name_prefix("router.outbox", cause)
        for last in lasts:
            assert time_ordered_id_beside_last(anchor, prefix, last) == time_ordered_id_beside(
                anchor, "router.outbox", cause, last
            )


@given(
    times=st.lists(
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(9999, 12, 30),
            timezones=st.sampled_from(
                [UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=5, minutes=30))]
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_the_time_digits_are_the_clamped_milliseconds_whatever_the_zone_and_order(times):
    # the timedelta division written as days, seconds and microseconds (before 1970:
    # clamped to 0), and the last time's text reused only for that very time
    for at in [*times, *reversed(times), *times]:
        millis = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
        clamped = min(max(millis, 0), (1 << 48) - 1)
        assert uuid.UUID(time_ordered_id("k", at, "x")).int >> 80 == clamped
        copy = at.replace(fold=at.fold)  # equal, not the same object
        assert time_ordered_id("k", copy, "x") == time_ordered_id("k", at, "x")


# --- ordinal_id: one stem per name and anchor, the ordinal in the last two digits ---


def test_an_ordinal_id_is_the_stem_of_the_name_and_its_ordinals_hex() -> None:
    anchor = time_ordered_id("router.conversation", datetime(2026, 12, 1, tzinfo=UTC), "ev-1")
    stem = ordinal_id_stem(anchor, "router.outbox", "ev-1")
    # pinned: stored outbox ids were derived this way
    assert stem == "01a22ee6-b000-8b5c-8f1b-48cef306e6"
    assert [ordinal_id(stem, n) for n in (0, 1, 255)] == [stem + "00", stem + "01", stem + "ff"]
    assert ORDINALS == 256
    uuid.UUID(ordinal_id(stem, 7))  # a valid UUID's text
    assert ordinal_id(stem, 7)[14] == "8"  # version 8, the time first as the anchor's
    assert ordinal_id(stem, 7)[:13] == anchor[:13]


@given(
    at=instants,
    kind=st.text(min_size=1),
    part=st.text(),
    time_ordered=st.booleans(),
)
def test_a_stem_is_the_id_beside_of_the_name_and_an_empty_part_but_two_digits(
    at, kind, part, time_ordered
):
    # written from the digest's hex in one function: the text time_ordered_id_beside
    # writes (a UUIDv8 beside a time-ordered anchor, else a UUIDv5)
    anchor = (
        time_ordered_id("router.conversation", at, "ev-1")
        if time_ordered
        else deterministic_id("router.conversation", "ev-1")
    )
    assert (
        ordinal_id_stem(anchor, kind, part) == time_ordered_id_beside(anchor, kind, part, "")[:-2]
    )


@given(
    at=instants,
    causes=st.lists(st.text(min_size=1), min_size=1, max_size=6, unique=True),
    time_ordered=st.booleans(),
)
def test_ordinal_ids_of_distinct_causes_and_ordinals_are_distinct(at, causes, time_ordered):
    anchor = (
        time_ordered_id("router.conversation", at, "ev")
        if time_ordered
        else deterministic_id("router.conversation", "ev")
    )
    ids = [
        ordinal_id(ordinal_id_stem(anchor, "router.outbox", cause), n)
        for cause in causes
        for n in range(ORDINALS)
    ]
    assert len(set(ids)) == len(ids)
    assert all(len(each) == 36 for each in ids)


zones = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))])


@given(
    kind=st.text(min_size=1),
    values=st.lists(st.text(), min_size=1, max_size=3),
    at=st.datetimes(
        min_value=datetime(1960, 1, 1), max_value=datetime(9999, 12, 31), timezones=zones
    ),
    again=st.booleans(),
)
def test_an_id_from_a_named_kind_is_the_time_ordered_id(kind, values, at, again):
    # the router's conversation and contact ids: the kind's prefix made once, string parts
    expected = time_ordered_id(kind, at, *values)
    named = time_ordered_id_named(name_prefix(kind), at, "\x1f".join(values))
    assert named == expected
    if again:  # the same instant again (its time text kept) and a millisecond later
        assert time_ordered_id_named(name_prefix(kind), at, "\x1f".join(values)) == expected
        later = at + timedelta(milliseconds=1)
        assert time_ordered_id_named(name_prefix(kind), later, values[0]) == time_ordered_id(
            kind, later, values[0]
        )


@given(at=st.datetimes(max_value=datetime(1969, 12, 31), timezones=st.just(UTC)))
def test_times_before_1970_are_the_epoch(at):
    made = time_ordered_id("router.conversation", at, "ev-1")
    assert made[:13] == "00000000-0000"
    assert time_ordered_id_named(name_prefix("router.conversation"), at, "ev-1") == made


def test_named_refuses_naive_times():
    with pytest.raises(ValueError, match="aware"):
        time_ordered_id_named(name_prefix("k"), datetime(2026, 1, 1), "ev-1")
