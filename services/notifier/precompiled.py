"""The templates of nearly every notice, written out as Python: same text as Jinja's.

A pipeline POST and a backlog interaction send the agent's ``agent_assigned`` mail
(subject, text, HTML) and the customer's ``chat_ack``; Jinja renders each part through a
context, a generator per block and a call per attribute and filter — most of what
composing a notice costs (``bench.notify_instructions``). These functions produce the
same strings from the same variables and filters.

Each is used only for the template source it was written from: the SHA-256 of the
template and of what it extends or includes, as the environment loads them (an edited
file, or an override in ``NOTIFIER_TEMPLATES_DIR``, has another digest, so Jinja renders
it). A function that raises (a variable missing, a value of another shape) leaves the
part to Jinja, which renders it or says what is wrong, as without these.
``tests/unit/notifier/test_precompiled.py`` checks every function's text against Jinja's
for generated values, and that each digest is the shipped source's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from markupsafe import escape

# An enum member's value is read as ``member._value_`` (the enum HOWTO's name for it):
# ``.value`` is a property whose getter runs in Python, five a mail. A value of another
# shape still raises here (AttributeError), so Jinja renders the part, as before.
Filters = Mapping[str, Callable[..., str]]


def _escape(value: Any) -> str:
    """The text ``escape(value)`` formats to. A plain string with none of the five
    characters escaping replaces is that text already: returned as it is, without the
    ``Markup`` object (a Python ``__new__``) and its formatting — ~1.2 µs of the ~1.9 an
    escape cost, 11 per ``agent_assigned`` HTML part (issue #16)."""
    if type(value) is str and not (
        "&" in value or "<" in value or ">" in value or '"' in value or "'" in value
    ):
        return value
    return str(escape(value))


Render = Callable[[Mapping[str, Any], Filters], str]


def _agent_assigned_subject_ko(v: Mapping[str, Any], f: Filters) -> str:
    priority = v["conversation"].priority._value_
    return f"배정됨: {v['ticket_subject'] or v['reference']} ({priority})\n"


def _agent_assigned_subject_en(v: Mapping[str, Any], f: Filters) -> str:
    conversation = v["conversation"]
    subject = v["ticket_subject"] or v["reference"]
    return f"Assigned to you: {subject} ({conversation.priority._value_})\n"


def _agent_assigned_txt(
    greeting: str, sticky_text: str, labels: tuple[str, ...], due: str, previous: str
) -> Render:
    """The text part, whose ko and en files differ only in their words."""
    opening, assigned = labels[0], labels[1]

    def render(v: Mapping[str, Any], f: Filters) -> str:
        event, conversation = v["event"], v["conversation"]
        name = v["recipient_name"] or event.agent.agent_id
        sticky = sticky_text if event.sticky else ""
        out = [
            greeting.format(name=name),
            f"{opening}{v['reference']}{assigned}{sticky}.\n",
            "\n",
            f"{labels[2]}{v['customer_name']}\n",
            f"{labels[3]}{conversation.channel._value_}\n",
            f"{labels[4]}{conversation.queue}\n",
            f"{labels[5]}{conversation.priority._value_}\n",
        ]
        if conversation.first_response_due_at:
            out.append(f"{due}{f['local_time'](conversation.first_response_due_at)}\n")
        before = event.previous_agent
        if before:
            out.append(f"{previous}{before.name or before.agent_id}\n")
        return "".join(out)

    return render


_agent_assigned_txt_ko = _agent_assigned_txt(
    "{name}님,\n\n",
    " (이전에 응대하신 고객입니다)",
    ("상담 ", "이(가) 배정되었습니다", "고객:     ", "채널:     ", "큐:       ", "우선순위: "),
    "첫 답변 기한: ",
    "이전 담당자: ",
)
_agent_assigned_txt_en = _agent_assigned_txt(
    "Hello {name},\n\n",
    " (you helped this customer before)",
    (
        "Conversation ",
        " has been assigned to you",
        "Customer: ",
        "Channel:  ",
        "Queue:    ",
        "Priority: ",
    ),
    "First response due: ",
    "Previously with: ",
)


def _base_html(v: Mapping[str, Any], title: str, body: str) -> str:
    """``_base.html.j2`` around a child's blocks (already rendered, escaped)."""
    return (
        "<!doctype html>\n"
        f'<html lang="{_escape(v["locale"])}">\n'
        f'<head><meta charset="utf-8"><title>{title}</title></head>\n'
        "<body style=\"font-family: -apple-system, 'Malgun Gothic', 'Apple SD Gothic Neo',"
        ' sans-serif; font-size: 14px; line-height: 1.5; color: #222;">\n'
        f"{body}"
        '<p style="color: #888; font-size: 12px; margin-top: 24px;">'
        f"{_escape(v['brand'])} · [#{_escape(v['reference'])}]</p>\n"
        "</body>\n"
        "</html>\n"
    )


def _agent_assigned_html(
    title: str, lead: tuple[str, str], sticky_text: str, labels: tuple[str, ...]
) -> Render:
    """The HTML part (extends ``_base.html.j2``), ko and en alike but for their words."""

    def render(v: Mapping[str, Any], f: Filters) -> str:
        event, conversation = v["event"], v["conversation"]
        reference = _escape(v["reference"])
        sticky = sticky_text if event.sticky else ""
        body = [
            f"<p>{lead[0]} <strong>{reference}</strong>{lead[1]}{sticky}.</p>\n",
            "<table>\n",
            f"<tr><td>{labels[0]}</td><td>{_escape(v['customer_name'])}</td></tr>\n",
            f"<tr><td>{labels[1]}</td><td>{_escape(v['ticket_subject'])}</td></tr>\n",
            f"<tr><td>{labels[2]}</td><td>{_escape(conversation.channel._value_)}</td></tr>\n",
            f"<tr><td>{labels[3]}</td><td>{_escape(conversation.queue)}</td></tr>\n",
            f"<tr><td>{labels[4]}</td><td>{_escape(conversation.priority._value_)}</td></tr>\n",
        ]
        if conversation.first_response_due_at:
            due = _escape(f["local_time"](conversation.first_response_due_at))
            body.append(f"<tr><td>{labels[5]}</td><td><strong>{due}</strong></td></tr>\n")
        body.append("</table>\n")
        return _base_html(v, f"{title}{reference}", "".join(body))

    return render


_agent_assigned_html_ko = _agent_assigned_html(
    "배정: ",
    ("상담", "이(가) 배정되었습니다"),
    " (이전에 응대하신 고객입니다)",
    ("고객", "제목", "채널", "큐", "우선순위", "첫 답변 기한"),
)
_agent_assigned_html_en = _agent_assigned_html(
    "Assigned: ",
    ("Conversation", " has been assigned to you"),
    " (you helped this customer before)",
    ("Customer", "Subject", "Channel", "Queue", "Priority", "First response due"),
)


def _promise_ko(v: Mapping[str, Any], f: Filters) -> str:
    promise = v["event"].promise
    if not promise:
        return ""
    due = f["promise_time"](promise.due_at, promise.timezone, v["locale"])
    if promise.open_now:
        hours = "" if promise.always_open else "영업시간 기준 "
        within = f["duration"](promise.target_minutes, v["locale"])
        return f"{hours}{within} 이내, {due}까지 답변드리겠습니다."
    return f"지금은 영업시간이 아닙니다. {due}까지 답변드리겠습니다."


def _promise_en(v: Mapping[str, Any], f: Filters) -> str:
    promise = v["event"].promise
    if not promise:
        return ""
    if promise.open_now:
        within = f["duration"](promise.target_minutes, v["locale"])
        hours = "" if promise.always_open else " of business hours"
        due = f["promise_time"](promise.due_at, promise.timezone, v["locale"])
        return f"We aim to answer within {within}{hours}: by {due}."
    due = f["promise_time"](promise.due_at, promise.timezone, v["locale"])
    return f"We are closed now; expect an answer by {due}."


def _chat_ack_ko(v: Mapping[str, Any], f: Filters) -> str:
    thanks = f"{v['brand']}에 문의해 주셔서 감사합니다. 접수 번호는 {v['reference']} 입니다. "
    return thanks + _promise_ko(v, f)


def _chat_ack_en(v: Mapping[str, Any], f: Filters) -> str:
    thanks = f"Thank you for contacting {v['brand']}; your request is {v['reference']}. "
    return thanks + _promise_en(v, f)


def _customer_ack_subject_ko(v: Mapping[str, Any], f: Filters) -> str:
    subject = v["ticket_subject"]
    return f"문의가 접수되었습니다{f': {subject}' if subject else ''}"  # no newline: trim_blocks


def _customer_ack_subject_en(v: Mapping[str, Any], f: Filters) -> str:
    subject = v["ticket_subject"]
    return f"We received your request{f': {subject}' if subject else ''}"


def _customer_ack_txt_ko(v: Mapping[str, Any], f: Filters) -> str:
    name, brand, reference = v["recipient_name"], v["brand"], v["reference"]
    promise = f"{_promise_ko(v, f)}\n" if v["event"].promise else ""
    return (
        f"{f'{name}님, ' if name else ''}안녕하세요.\n\n"
        f"{brand}에 문의해 주셔서 감사합니다. 고객님의 문의가 접수되었으며 접수 번호는"
        f" {reference} 입니다.\n\n"
        f"{promise}\n"
        f"추가로 전달하실 내용이 있으면 제목의 [#{reference}]를 유지한 채 이 메일에"
        " 회신해 주세요.\n\n"
        "본 메일은 자동 발송된 접수 확인 메일입니다.\n"
        f"{brand}\n"
    )


def _customer_ack_txt_en(v: Mapping[str, Any], f: Filters) -> str:
    name, brand, reference = v["recipient_name"], v["brand"], v["reference"]
    promise = f"{_promise_en(v, f)}\n" if v["event"].promise else ""
    return (
        f"Hello{f' {name}' if name else ''},\n\n"
        f"Thank you for contacting {brand}. We have received your request; its reference is"
        f" {reference}.\n\n"
        f"{promise}\n"
        f"To add anything, simply reply to this email and keep [#{reference}] in the subject.\n\n"
        "This is an automatic acknowledgement.\n"
        f"{brand}\n"
    )


def _customer_ack_html_ko(v: Mapping[str, Any], f: Filters) -> str:
    # The promise is an included .txt template: not autoescaped, as Jinja includes it.
    name, brand, reference = v["recipient_name"], _escape(v["brand"]), _escape(v["reference"])
    promise = f"<p>{_promise_ko(v, f)}</p>\n" if v["event"].promise else ""
    body = (
        f"<p>{f'{_escape(name)}님, ' if name else ''}안녕하세요.</p>\n"
        f"<p>{brand}에 문의해 주셔서 감사합니다. 고객님의 문의가 접수되었으며 접수 번호는"
        f" <strong>{reference}</strong> 입니다.</p>\n"
        f"{promise}"
        f"<p>추가로 전달하실 내용이 있으면 제목의 [#{reference}]를 유지한 채 이 메일에 회신해"
        " 주세요.</p>\n"
        '<p style="color: #666;">본 메일은 자동 발송된 접수 확인 메일입니다.</p>\n'
    )
    return _base_html(v, f"문의 {reference} 접수", body)


def _customer_ack_html_en(v: Mapping[str, Any], f: Filters) -> str:
    name, brand, reference = v["recipient_name"], _escape(v["brand"]), _escape(v["reference"])
    promise = f"<p>{_promise_en(v, f)}</p>\n" if v["event"].promise else ""
    body = (
        f"<p>Hello{f' {_escape(name)}' if name else ''},</p>\n"
        f"<p>Thank you for contacting {brand}. We have received your request; its reference is"
        f" <strong>{reference}</strong>.</p>\n"
        f"{promise}"
        f"<p>To add anything, simply reply to this email and keep [#{reference}] in the"
        " subject.</p>\n"
        '<p style="color: #666;">This is an automatic acknowledgement.</p>\n'
    )
    return _base_html(v, f"Request {reference} received", body)


#: Template name → (the names whose sources it renders, their SHA-256, the function).
#: The digest is of the sources joined by NUL, in that order (see :func:`source_digest`).
PRECOMPILED: dict[str, tuple[tuple[str, ...], str, Render]] = {
    "ko/agent_assigned.subject.j2": (
        ("ko/agent_assigned.subject.j2",),
        "0e3a262268fd39d910e1c19c37212f4efe350c8f513f849af008004d8f2b16d9",
        _agent_assigned_subject_ko,
    ),
    "en/agent_assigned.subject.j2": (
        ("en/agent_assigned.subject.j2",),
        "de0566dba143090a7461f2ffa6fff53c5d3ff0f604f61b13be211a50f0859df2",
        _agent_assigned_subject_en,
    ),
    "ko/agent_assigned.txt.j2": (
        ("ko/agent_assigned.txt.j2",),
        "bed34d9dc73ca00ae0749b80fd8c21b0f6dd8cb4e26c50b7cede657e438aedb2",
        _agent_assigned_txt_ko,
    ),
    "en/agent_assigned.txt.j2": (
        ("en/agent_assigned.txt.j2",),
        "2eec26e1b81b3b97cfb57b9931d303dcd6ea3be4b7c20403182010c6bb289bba",
        _agent_assigned_txt_en,
    ),
    "ko/agent_assigned.html.j2": (
        ("ko/agent_assigned.html.j2", "_base.html.j2"),
        "c742a390c2217c36a928ac99daacaf1521c6a860bf93599a57914b8fd682bc10",
        _agent_assigned_html_ko,
    ),
    "en/agent_assigned.html.j2": (
        ("en/agent_assigned.html.j2", "_base.html.j2"),
        "c782b8c7220600f7b2021afc36ca15814be35fa730a3449f747bf89f011ec196",
        _agent_assigned_html_en,
    ),
    "ko/chat_ack.txt.j2": (
        ("ko/chat_ack.txt.j2", "ko/_promise.txt.j2"),
        "1f8cf4805e9d7124281459567b706595f088a3670e082050c14e1c83e6dc86a1",
        _chat_ack_ko,
    ),
    "en/chat_ack.txt.j2": (
        ("en/chat_ack.txt.j2", "en/_promise.txt.j2"),
        "2ddb85c3dcfb85c2a2f9311960f1173a2db6942bfd57425cbb7af5f2f4aabb5c",
        _chat_ack_en,
    ),
    "ko/customer_ack.subject.j2": (
        ("ko/customer_ack.subject.j2",),
        "ed47ec20fc8877beb5d9dad5792facd2da7746d1a322a2913e2578bebb437332",
        _customer_ack_subject_ko,
    ),
    "en/customer_ack.subject.j2": (
        ("en/customer_ack.subject.j2",),
        "0ee32fe27e254ebc2afe0138b252ab75d9810571c5c967790612c92bebc15473",
        _customer_ack_subject_en,
    ),
    "ko/customer_ack.txt.j2": (
        ("ko/customer_ack.txt.j2", "ko/_promise.txt.j2"),
        "aef805fad046b84f0e3e7357f8fa00298625f020a525b1d7ac22fe10a1f9539e",
        _customer_ack_txt_ko,
    ),
    "en/customer_ack.txt.j2": (
        ("en/customer_ack.txt.j2", "en/_promise.txt.j2"),
        "4bcff1878995b62fb6d799c813ae79f5511289b18c90e7f3bdee84af5b4b61dc",
        _customer_ack_txt_en,
    ),
    "ko/customer_ack.html.j2": (
        ("ko/customer_ack.html.j2", "ko/_promise.txt.j2", "_base.html.j2"),
        "db4ce3ec83718bbdaee5c31f8dcddedbc67a484f724e9a0b8663ba895d7e6269",
        _customer_ack_html_ko,
    ),
    "en/customer_ack.html.j2": (
        ("en/customer_ack.html.j2", "en/_promise.txt.j2", "_base.html.j2"),
        "71b67b5e3bdff67b45bddbb235d30bb458f0d6b71dd90d109f51fb87f29e9067",
        _customer_ack_html_en,
    ),
}


def source_digest(environment: jinja2.Environment, names: tuple[str, ...]) -> str:
    """SHA-256 of the sources the environment loads for ``names`` (overrides included)."""
    loader = environment.loader
    if loader is None:
        return ""
    digest = hashlib.sha256()
    for name in names:
        try:
            source, _, _ = loader.get_source(environment, name)
        except jinja2.TemplateNotFound:
            return ""
        digest.update(source.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def precompiled_for(environment: jinja2.Environment, name: str) -> Render | None:
    """The Python rendering of template ``name`` if it is the source it was written
    from (and everything it extends or includes is too); else None (Jinja renders it)."""
    entry = PRECOMPILED.get(name)
    if entry is None:
        return None
    names, digest, render = entry
    return render if source_digest(environment, names) == digest else None
