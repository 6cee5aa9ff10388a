"""The customer's rating pages (ko/en): the form, thanks, and the two refusals.

Tiny, self-contained HTML (no scripts, no external assets); every value is escaped.
"""

from __future__ import annotations

from html import escape

TEXT = {
    "en": {
        "title": "How did we do?",
        "ask": "How satisfied are you with our help on request {reference}?",
        "low": "very dissatisfied",
        "high": "very satisfied",
        "comment": "Anything you want to tell us? (optional)",
        "send": "Send",
        "current": "Your current answer: {current}. You can change it.",
        "thanks": "Thank you! We recorded your answer ({score}/5) for request {reference}.",
        "expired": "This rating link has expired. Thank you for your time.",
        "forged": "This rating link is not valid.",
    },
    "ko": {
        "title": "상담은 어떠셨나요?",
        "ask": "문의 {reference} 상담에 얼마나 만족하셨나요?",
        "low": "매우 불만족",
        "high": "매우 만족",
        "comment": "남기실 말씀이 있으면 적어 주세요 (선택)",
        "send": "보내기",
        "current": "현재 응답: {current}점. 변경하실 수 있습니다.",
        "thanks": "감사합니다! 문의 {reference}에 대한 응답({score}/5)이 기록되었습니다.",
        "expired": "만료된 평가 링크입니다. 시간 내 주셔서 감사합니다.",
        "forged": "유효하지 않은 평가 링크입니다.",
    },
}


def _page(locale: str, body: str) -> str:
    title = escape(TEXT[locale]["title"])
    return (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head>"
        '<body style="font-family: sans-serif; max-width: 32rem; margin: 2rem auto;">'
        f"<h1>{title}</h1>{body}</body></html>"
    )


def rating_form(
    locale: str, *, reference: str, score: int, current: int | None, action: str
) -> str:
    text = TEXT[locale]
    options = "".join(
        f'<label style="margin-right: 1rem;"><input type="radio" name="rating" value="{n}"'
        f"{' checked' if n == score else ''}> {n}</label>"
        for n in range(1, 6)
    )
    note = f"<p>{escape(text['current'].format(current=current))}</p>" if current else ""
    return _page(
        locale,
        f"<p>{escape(text['ask'].format(reference=reference))}</p>{note}"
        f'<form method="post" action="{escape(action)}">'  # the signed query authorises it
        f"<p>1 = {escape(text['low'])}, 5 = {escape(text['high'])}</p><p>{options}</p>"
        f'<p><label>{escape(text["comment"])}<br><textarea name="comment" rows="4" cols="40"'
        ' maxlength="2000"></textarea></label></p>'
        f'<p><button type="submit">{escape(text["send"])}</button></p></form>',
    )


def thanks(locale: str, *, reference: str, score: int) -> str:
    message = TEXT[locale]["thanks"].format(reference=reference, score=score)
    return _page(locale, f"<p>{escape(message)}</p>")


def refusal(locale: str, key: str) -> str:
    return _page(locale, f"<p>{escape(TEXT[locale][key])}</p>")
