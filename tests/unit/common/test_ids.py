"""Deterministic ids are UUIDv5 exactly (a changed id would redo work on redelivery)."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from libs.common.ids import OMNIDESK_NAMESPACE, deterministic_id

parts = st.one_of(st.none(), st.integers(), st.text())


@given(kind=st.text(min_size=1), values=st.lists(parts, min_size=1, max_size=4))
def test_same_as_the_standard_library_uuid5(kind, values):
    name = "\x1f".join([kind, *("" if p is None else str(p) for p in values)])
    assert deterministic_id(kind, *values) == str(uuid.uuid5(OMNIDESK_NAMESPACE, name))


def test_known_value_never_changes():
    # pinned: every stored outbox/conversation id was derived this way
    assert deterministic_id("router.outbox", "ev-1", 0) == "931d1921-de59-5e6c-8a9c-c482595bdaff"
