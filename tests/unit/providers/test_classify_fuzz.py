"""Whatever a provider (or a proxy in front of it) answers, classify gives an outcome."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.providers import channeltalk, kakao, line, slack, telegram, twilio, whatsapp
from libs.providers.outbound import SendVerdict

MODULES = [m.outbound for m in (telegram, whatsapp, twilio, line, slack, channeltalk, kakao)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# Shapes that look like the providers' own bodies, with any values inside.
provider_like = st.fixed_dictionaries(
    {},
    optional={
        "ok": json_values,
        "result": json_values,
        "error": json_values,
        "error_code": json_values,
        "description": json_values,
        "parameters": json_values,
        "messages": json_values,
        "code": json_values,
        "sid": json_values,
        "sentMessages": json_values,
        "details": json_values,
        "message": json_values,
        "errors": json_values,
        "status": json_values,
        "taskId": json_values,
        "ts": json_values,
    },
)
headers = st.dictionaries(
    st.sampled_from(["retry-after", "x-line-accepted-request-id", "content-type"]),
    st.text(max_size=30),
    max_size=3,
)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.split(".")[2])
@settings(max_examples=150, deadline=None)
@given(status=st.integers(100, 599), body=provider_like | json_values, hdrs=headers)
def test_classify_never_raises_and_is_consistent(module, status, body, hdrs):
    outcome = module.classify(status, body, hdrs)
    assert outcome.verdict in SendVerdict
    if outcome.verdict is SendVerdict.RETRY:
        assert outcome.retry_after_s is not None and outcome.retry_after_s >= 0
    if outcome.verdict is SendVerdict.PERMANENT:
        assert outcome.error_code
    if status >= 500:
        assert outcome.verdict is not SendVerdict.ACCEPTED
