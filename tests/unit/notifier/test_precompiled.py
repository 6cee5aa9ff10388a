"""The precompiled templates write exactly Jinja's text, and only for their own sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from libs.common.events import (
    AgentRef,
    ConversationAssigned,
    ConversationOpened,
    Priority,
    ResponsePromise,
)
from services.notifier.precompiled import PRECOMPILED, _escape, precompiled_for
from services.notifier.rendering import Renderer, RenderError, _environment, template_context
from services.notifier.samples import T0, sample_events, snapshot

#: Text that HTML escaping, subject folding and Korean spacing all see.
WORDS = st.text(
    alphabet=st.sampled_from(list("aZ 09<>&\"'/\\{}%#.,:;-_\n\t김민준출금안됩니다😀·")), max_size=24
)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
ZONES = st.sampled_from(["Asia/Seoul", "UTC", "America/New_York", "Europe/Berlin"])
LOCALES = st.sampled_from(["ko", "en", "ja"])  # ja: the default locale's files, locale "ja"
AGENTS = st.builds(
    AgentRef,
    agent_id=st.text(alphabet="abc-123", min_size=1, max_size=8),
    name=st.none() | WORDS,
    email=st.just("agent@desk.example"),
    locale=st.sampled_from(["ko", "en"]),
)


def conversation(reference: str, subject: str, customer: str | None, queue: str, due, priority):
    base = snapshot(reference=reference or "C-1", display_name=customer)
    return base.model_copy(
        update={
            "subject": subject,
            "queue": queue or "general",
            "first_response_due_at": due,
            "priority": priority,
        }
    )


CONVERSATIONS = st.builds(
    conversation,
    WORDS,
    WORDS,
    st.none() | WORDS,
    WORDS,
    st.none() | INSTANTS,
    st.sampled_from(list(Priority)),
)
ASSIGNED = st.builds(
    lambda conv, agent, previous, sticky: ConversationAssigned(
        conversation=conv, occurred_at=T0, agent=agent, previous_agent=previous, sticky=sticky
    ),
    CONVERSATIONS,
    AGENTS,
    st.none() | AGENTS,
    st.booleans(),
)
PROMISES = st.builds(
    ResponsePromise,
    target_minutes=st.integers(0, 3000),
    due_at=INSTANTS,
    open_now=st.booleans(),
    calendar=st.just("kst-business"),
    timezone=ZONES,
    always_open=st.booleans(),
)
OPENED = st.builds(
    lambda conv, promise: ConversationOpened(conversation=conv, occurred_at=T0, promise=promise),
    CONVERSATIONS,
    st.none() | PROMISES,
)


def renderers(zone: str = "Asia/Seoul") -> tuple[Renderer, Renderer]:
    return Renderer(display_timezone=zone), Renderer(display_timezone=zone, precompiled=False)


FAST, JINJA = renderers()
ENVIRONMENT = _environment(None)


def same_text(template: str, part: str, locale: str, context: dict) -> None:
    """The Python rendering itself (not a fallback to Jinja after it raised) equals Jinja's."""
    chosen = JINJA._choose(template, part, locale)
    assert chosen is not None
    precompiled = precompiled_for(ENVIRONMENT, chosen.name)
    assert precompiled is not None
    values = JINJA._values(locale, context)
    assert precompiled(values, FAST._filters) == JINJA._run(chosen, values)


def same_mail(template: str, locale: str, context: dict) -> None:
    """Each part's Python rendering equals Jinja's, and so does the whole rendered mail."""
    for part in ("subject", "txt", "html"):
        same_text(template, part, locale, context)
    assert FAST.render(template, locale, context) == JINJA.render(template, locale, context)


def test_every_precompiled_template_is_the_shipped_source():
    """A template edited without its Python rendering falls back to Jinja: correct, but
    slow — this says so."""
    environment = _environment(None)
    for name in PRECOMPILED:
        assert precompiled_for(environment, name) is not None, name


@settings(max_examples=300, deadline=None)
@given(event=ASSIGNED, locale=LOCALES, recipient=st.none() | WORDS, brand=WORDS)
def test_the_agents_mail_is_jinjas(event, locale, recipient, brand):
    context = template_context(event, recipient_name=recipient, brand=brand)
    same_mail("agent_assigned", locale, context)


@settings(max_examples=300, deadline=None)
@given(event=OPENED, locale=LOCALES, recipient=st.none() | WORDS, brand=WORDS)
def test_the_customers_acknowledgement_mail_is_jinjas(event, locale, recipient, brand):
    context = template_context(event, recipient_name=recipient, brand=brand)
    same_mail("customer_ack", locale, context)


@settings(max_examples=300, deadline=None)
@given(event=OPENED, locale=LOCALES, brand=WORDS)
def test_the_chat_acknowledgement_is_jinjas(event, locale, brand):
    context = {**template_context(event, recipient_name=None, brand=brand), "quick_replies": False}
    same_text("chat_ack", "txt", locale, context)
    assert FAST.render_text("chat_ack", locale, context) == JINJA.render_text(
        "chat_ack", locale, context
    )


@pytest.mark.parametrize("locale", ["ko", "en"])
def test_the_samples_go_the_precompiled_way(locale):
    fast, jinja = renderers()
    events = sample_events(snapshot(language=locale))
    assigned = events["support.conversation.assigned"]
    context = template_context(assigned, recipient_name="이서연", brand="Desk")
    assert fast.render("agent_assigned", locale, context) == jinja.render(
        "agent_assigned", locale, context
    )
    opened = template_context(events["support.conversation.opened"], recipient_name=None, brand="D")
    assert fast.render_text("chat_ack", locale, opened) == jinja.render_text(
        "chat_ack", locale, opened
    )
    acknowledged = template_context(
        events["support.conversation.opened"], recipient_name="김민준", brand="Desk"
    )
    assert fast.render("customer_ack", locale, acknowledged) == jinja.render(
        "customer_ack", locale, acknowledged
    )
    assert set(fast._precompiled) == {
        f"{locale}/{template}.{part}.j2"
        for template in ("agent_assigned", "customer_ack")
        for part in ("subject", "txt", "html")
    } | {f"{locale}/chat_ack.txt.j2"}
    assert not jinja._precompiled


def test_an_edited_template_is_rendered_by_jinja(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "agent_assigned.txt.j2").write_text("Edited: {{ reference }}\n")
    renderer = Renderer(override_dir=tmp_path)
    event = sample_events(snapshot(language="en"))["support.conversation.assigned"]
    context = template_context(event, recipient_name=None, brand="Desk")
    assert renderer.render("agent_assigned", "en", context).text == "Edited: C-1234\n"
    assert "en/agent_assigned.txt.j2" not in renderer._precompiled
    assert "en/agent_assigned.subject.j2" in renderer._precompiled  # not overridden


def test_a_missing_variable_is_still_jinjas_error():
    event = sample_events(snapshot(language="en"))["support.conversation.assigned"]
    context = template_context(event, recipient_name=None, brand="Desk")
    del context["customer_name"]
    with pytest.raises(RenderError, match="customer_name"):
        FAST.render("agent_assigned", "en", context)


def test_a_promise_due_tomorrow_in_another_zone():
    """The filters are the environment's (cached) own: same words either way."""
    promise = ResponsePromise(
        target_minutes=90,
        due_at=T0 + timedelta(hours=20),
        open_now=False,
        calendar="ny",
        timezone="America/New_York",
    )
    event = ConversationOpened(conversation=snapshot(), occurred_at=T0, promise=promise)
    context = template_context(event, recipient_name=None, brand="Desk")
    for locale in ("ko", "en"):
        same_text("chat_ack", "txt", locale, context)
        fast = FAST.render_text("chat_ack", locale, context)
        assert fast == JINJA.render_text("chat_ack", locale, context)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30) | WORDS)
def test_the_precompiled_escape_is_the_text_markupsafe_escape_formats_to(value):
    assert _escape(value) == f"{escape(value)}"
    marked = Markup(value)  # noqa: S704 - a test value, never rendered
    assert _escape(marked) == f"{escape(marked)}"  # kept as it is
