"""``UtcDatetime``'s short path (our producers' ``...Z`` text read by ``fromisoformat``)
against what it replaces, ``AwareDatetime`` then ``astimezone(UTC)``: the same datetime
(value, ``tzinfo`` the ``UTC`` object, fold) or the same validation errors, for any text of
the short path's shape and around it, for JSON and Python input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import AfterValidator, AwareDatetime, BaseModel, TypeAdapter, ValidationError

from libs.common.events.base import UtcDatetime

_NEW = TypeAdapter(UtcDatetime)
_OLD = TypeAdapter(Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))])


def _outcome(validate: Any, value: object) -> tuple[Any, ...]:
    try:
        got = validate(value)
    except ValidationError as exc:
        return ("error", exc.errors(include_url=False))
    return ("ok", got, got.tzinfo is UTC, got.fold, got.utcoffset())


def _same(value: object) -> None:
    assert _outcome(_NEW.validate_python, value) == _outcome(_OLD.validate_python, value)
    if isinstance(value, str):
        text = json.dumps(value)
        assert _outcome(_NEW.validate_json, text) == _outcome(_OLD.validate_json, text)


_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30)), None]
)


@given(st.datetimes(timezones=_ZONES, allow_imaginary=False), st.booleans())
def test_datetimes_and_their_texts_read_as_before(moment: datetime, fold: bool) -> None:
    moment = moment.replace(fold=int(fold))
    _same(moment)
    _same(moment.isoformat())
    if moment.tzinfo is UTC:
        _same(moment.isoformat().replace("+00:00", "Z"))
        _same(moment.replace(microsecond=0).isoformat().replace("+00:00", "Z"))
    # pydantic's JSON of the value, the text our producers write
    if moment.tzinfo is not None:
        _same(json.loads(TypeAdapter(datetime).dump_json(moment)))


#: Texts of the short path's lengths from characters that make and break its shape.
_SHAPED = st.one_of(
    st.text(alphabet="0123456789-:T.Zt ,W+٣", min_size=27, max_size=27),
    st.text(alphabet="0123456789-:T.Zt ,W+٣", min_size=20, max_size=20),
    st.builds(
        lambda digits, tail: (
            f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:"
            f"{digits[10:12]}:{digits[12:14]}{tail}"
        ),
        st.text(alphabet="0123456789", min_size=14, max_size=14),
        st.sampled_from(["Z", ".000000Z", ".123456Z", ".1234567Z", ".12345Z", "+00:00", ""]),
    ),
)


@given(_SHAPED)
@example("2026-12-01T05:17:36.920564Z")
@example("2026-12-01T05:17:36Z")
@example("2026-12-01T24:00:00Z")
@example("2026-12-01T23:59:60Z")
@example("2026-02-29T05:17:36Z")
@example("0000-12-01T05:17:36.000000Z")
@example("2026-W48-2T05:17:36.920564Z")
@example("2026-12-01t05:17:36.920564Z")
@example("2026-12-01 05:17:36.920564Z")
@example("2026-12-01T05:17:36,920564Z")
@example("2026-12-01T05:17:36.92056Z ")
def test_texts_of_the_short_paths_shape_read_as_before(text: str) -> None:
    _same(text)


@pytest.mark.parametrize("value", [None, 1_700_000_000, "", "Z", b"2026-12-01T05:17:36Z"])
def test_other_inputs_read_as_before(value: object) -> None:
    _same(value)


class _Old(BaseModel):
    at: Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]
    maybe: Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))] | None


class _New(BaseModel):
    at: UtcDatetime
    maybe: UtcDatetime | None


@given(st.datetimes(timezones=_ZONES.filter(lambda zone: zone is not None)))
def test_fields_are_written_and_described_as_before(moment: datetime) -> None:
    """A plain validator function has no serializer: pydantic-core writes its value by the
    value's type, a datetime as ``AwareDatetime``'s serializer does (in any zone: what
    ``model_construct`` may hold)."""
    old, new = (
        _Old.model_construct(at=moment, maybe=moment),
        _New.model_construct(at=moment, maybe=moment),
    )
    assert new.model_dump_json() == old.model_dump_json()
    assert new.model_dump(mode="json") == old.model_dump(mode="json")
    assert new.model_dump() == old.model_dump()
    for mode in ("validation", "serialization"):
        described_new = _New.model_json_schema(mode=mode)  # type: ignore[arg-type]
        described_old = _Old.model_json_schema(mode=mode)  # type: ignore[arg-type]
        assert {**described_new, "title": ""} == {**described_old, "title": ""}


def test_a_utc_datetime_is_kept_as_it_is() -> None:
    moment = datetime.now(UTC).replace(fold=1)
    assert _NEW.validate_python(moment) is moment
