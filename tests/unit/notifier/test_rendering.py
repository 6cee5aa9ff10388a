"""Templates: every notice renders in every locale; HTML escaped; overrides win."""

from __future__ import annotations

import jinja2
import jinja2.runtime
import pytest

from services.notifier.csat import rating_links
from services.notifier.decisions import PlanConfig, plan_notifications
from services.notifier.rendering import (
    Renderer,
    RenderError,
    duration_text,
    slack_escape,
    template_context,
)
from services.notifier.samples import sample_events, snapshot


def all_mail_notices(locale: str):
    for event in sample_events(snapshot(language=locale)).values():
        for notice in plan_notifications(event, PlanConfig()).mails:
            yield event, notice


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_every_notice_renders_subject_text_and_html(locale):
    renderer = Renderer(display_timezone="Asia/Seoul")
    seen = set()
    for event, notice in all_mail_notices(locale):
        context = template_context(
            event,
            recipient_name=notice.recipient_name,
            brand="Desk",
            rating_links=rating_links("https://x.example/csat", "k", "c-1", "t"),
        )
        rendered = renderer.render(notice.template, notice.locale, context)
        assert rendered.subject and "\n" not in rendered.subject
        assert event.conversation.reference in rendered.text or notice.template == "customer_reply"
        assert rendered.html and rendered.html.lstrip().startswith("<!doctype html>")
        seen.add(notice.template)
    assert len(seen) == 9


def test_korean_acknowledgement_states_the_expected_response_time():
    event = sample_events(snapshot(language="ko"))["support.conversation.opened"]
    renderer = Renderer(display_timezone="Asia/Seoul")
    context = template_context(event, recipient_name="김민준", brand="코인데스크")
    rendered = renderer.render("customer_ack", "ko", context)
    assert "영업시간 기준 30분 이내, 월요일 10:00 (KST)까지 답변드리겠습니다." in rendered.text
    assert "C-1234" in rendered.text
    assert rendered.subject == "문의가 접수되었습니다: 출금이 안 됩니다"


def test_english_acknowledgement_phrases_the_promise_not_the_operator_note():
    event = sample_events(snapshot(language="en"))["support.conversation.opened"]
    rendered = Renderer().render(
        "customer_ack", "en", template_context(event, recipient_name=None, brand="Desk")
    )
    assert "We aim to answer within 30 minutes of business hours: by 10:00 Monday KST." in (
        rendered.text
    )
    assert "email-30-minutes" not in rendered.text  # the policy name is for operators


def test_html_is_autoescaped_text_is_not():
    event = sample_events(snapshot(language="en"))["support.reply.requested"]
    event = event.model_copy(update={"text": "<script>alert(1)</script> & co\nline two"})
    rendered = Renderer().render(
        "customer_reply", "en", template_context(event, recipient_name=None, brand="Desk")
    )
    assert "<script>" in rendered.text
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co<br>" in rendered.html


def test_override_folder_wins_and_falls_back_per_file(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "customer_ack.subject.j2").write_text("Custom {{ reference }}")
    event = sample_events(snapshot(language="en"))["support.conversation.opened"]
    rendered = Renderer(override_dir=tmp_path).render(
        "customer_ack", "en", template_context(event, recipient_name=None, brand="Desk")
    )
    assert rendered.subject == "Custom C-1234"
    assert "We have received your request" in rendered.text


def test_unknown_locale_falls_back_to_default():
    event = sample_events(snapshot(language="en"))["support.conversation.opened"]
    rendered = Renderer().render(
        "customer_ack", "ja", template_context(event, recipient_name=None, brand="Desk")
    )
    assert rendered.subject.startswith("We received your request")


def test_missing_template_or_variable_is_a_render_error(tmp_path):
    event = sample_events()["support.conversation.opened"]
    context = template_context(event, recipient_name=None, brand="Desk")
    with pytest.raises(RenderError):
        Renderer().render("no_such_template", "en", context)
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "customer_ack.subject.j2").write_text("{{ no_such_variable }}")
    with pytest.raises(RenderError):
        Renderer(override_dir=tmp_path).render("customer_ack", "en", context)


@pytest.mark.parametrize(
    ("minutes", "locale", "text"),
    [
        (30, "en", "30 minutes"),
        (1, "en", "1 minute"),
        (120, "en", "2 hours"),
        (90, "en", "1 hour 30 minutes"),
        (30, "ko", "30분"),
        (120, "ko", "2시간"),
        (90, "ko", "1시간 30분"),
    ],
)
def test_duration_text(minutes, locale, text):
    assert duration_text(minutes, locale) == text


def test_slack_escape():
    assert slack_escape("<@U1> & <!channel>") == "&lt;@U1&gt; &amp; &lt;!channel&gt;"


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_parts_render_as_jinja_renders_them_and_leave_the_context_alone(locale):
    """The renderer shares one variables dict among a mail's parts (no copy per part):
    the output is Jinja's own ``Template.render``, and what a template assigns stays in
    that template's run."""
    renderer = Renderer(display_timezone="Asia/Seoul")
    for event, notice in all_mail_notices(locale):
        context = template_context(
            event,
            recipient_name=notice.recipient_name,
            brand="Desk",
            rating_links=rating_links("https://x.example/csat", "k", "c-1", "t"),
        )
        before = dict(context)
        rendered = renderer.render(notice.template, notice.locale, context)
        assert context == before
        values = {"locale": notice.locale, **context}
        for part, got in (("subject", rendered.subject), ("txt", rendered.text)):
            chosen = renderer._choose(notice.template, part, notice.locale)
            expected = chosen.render(values)
            assert got == (" ".join(expected.split()) if part == "subject" else expected)
        html = renderer._choose(notice.template, "html", notice.locale)
        assert rendered.html == html.render(values)


def test_a_template_assignment_does_not_reach_the_next_part(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "t.subject.j2").write_text("{% set brand = 'changed' %}{{ brand }}")
    (tmp_path / "en" / "t.txt.j2").write_text("{{ brand }}")
    rendered = Renderer(override_dir=tmp_path).render("t", "en", {"brand": "Desk"})
    assert (rendered.subject, rendered.text) == ("changed", "Desk")


@pytest.mark.parametrize("locale", ["en", "ko"])
@pytest.mark.parametrize("recipient_name", [None, "김민준", "Kim <b>&</b>"])
def test_every_template_renders_as_jinjas_own_context_renders_it(locale, recipient_name):
    """The renderer's ``KeptGlobalsContext`` (the globals' names kept, not copied per
    context) writes the same text as ``Template.render`` with Jinja's ``Context``, for
    every template file and part, ``{% extends %}`` and ``{% include %}`` included."""
    from services.notifier.rendering import BUILTIN_TEMPLATES, KeptGlobalsContext

    renderer = Renderer(display_timezone="Asia/Seoul")
    plain = Renderer(display_timezone="Asia/Seoul")
    plain._env.context_class = jinja2.runtime.Context
    assert renderer._env.context_class is KeptGlobalsContext
    names = sorted(
        path.name.removesuffix(".j2")
        for path in (BUILTIN_TEMPLATES / locale).glob("*.j2")
        if not path.name.startswith("_")
    )
    compared = 0
    for event in sample_events(snapshot(language=locale)).values():
        context = template_context(
            event,
            recipient_name=recipient_name,
            brand="Desk <&>",
            rating_links=rating_links("https://x.example/csat", "k", "c-1", "t"),
        )
        values = {**context, "quick_replies": True}
        for name in names:
            template, part = name.rsplit(".", 1)
            ours = renderer._values(locale, values)
            try:
                expected = plain._env.get_template(f"{locale}/{name}.j2").render(
                    {**plain._env.globals, "locale": locale, **values}
                )
            except (jinja2.TemplateError, TypeError):
                # a template for another event type (a field it lacks): fails either way
                with pytest.raises((jinja2.TemplateError, TypeError)):
                    renderer._render_one(template, part, locale, ours)
                continue
            assert renderer._render_one(template, part, locale, ours) == expected
            compared += 1
    assert compared >= 20
