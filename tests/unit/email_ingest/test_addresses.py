"""The plain-address fast path reads exactly what the stdlib's getaddresses reads."""

from __future__ import annotations

from email.utils import getaddresses

from hypothesis import given, settings
from hypothesis import strategies as st

from services.email_ingest.normalise.headers import parse_addresses, simple_address

#: Characters the stdlib's address parser treats specially, and some it does not.
_CHARS = [*'()<>@,:;."[]\\ \t\r\n', *"aZ9.-_+=?!#'`~", "é", "김", "\u3000", "\x0b"]
_any_text = st.lists(st.sampled_from(_CHARS), max_size=24).map("".join)
_atom = st.lists(st.sampled_from([*"aZ9-_+=?!#'`~", "é", "김", "\u3000", "\x0b"]), min_size=1,
                 max_size=5).map("".join)  # fmt: skip
_dot_atom = st.lists(_atom, min_size=1, max_size=3).map(".".join)
_word = st.one_of(
    _atom,
    _atom.map(lambda a: a + "."),
    st.lists(st.sampled_from([*"ab ,.<>@()", "é", "\\"]), max_size=6).map(
        lambda t: f'"{"".join(t)}"'
    ),
)
_plain = st.builds(
    lambda words, seps, gap, local, domain, bare: (
        f"{local}@{domain}"
        if bare
        else "".join(w + s for w, s in zip(words, seps, strict=False)) + gap + f"<{local}@{domain}>"
    ),
    st.lists(_word, max_size=3),
    st.lists(st.sampled_from([" ", "  ", "\t", ""]), min_size=3, max_size=3),
    st.sampled_from(["", " ", "\t "]),
    _dot_atom,
    _dot_atom,
    st.booleans(),
)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_plain, _any_text, st.builds(str.__add__, _plain, _any_text)))
def test_simple_address_is_getaddresses_or_declines(value):
    fast = simple_address(value)
    if fast is not None:
        assert fast == getaddresses([value])


def test_the_fast_path_takes_the_common_shapes():
    for value in ("Kim Minsu <minsu@x.kr>", '"Doe, J." <j@x>', "a.b@x.example", "<a@x>",
                  "=?utf-8?B?6rmA66+87IiY?= <k@x.kr>", "Sandy M. <s@x.org>"):  # fmt: skip
        assert simple_address(value) == getaddresses([value]), value
    assert simple_address("Pete(A chap) <pete@x>") is None
    assert simple_address("a@x, b@x") is None


def test_parse_addresses_keeps_its_results():
    assert [(a.email, a.display_name) for a in parse_addresses('"Kim, M" <Minsu@X.kr>')] == [
        ("minsu@x.kr", "Kim, M")
    ]
