"""Every mail of a fixed corpus is byte-for-byte the mail the builder wrote when the
corpus was recorded (``golden_mails.json``: SHA-256 of each raw mail).

The corpus: every sample notice in Korean and English, and variants at the writer's
edges — long ASCII and Korean lines (quoted-printable and base64 line breaks), long
display names and subjects (encoded-word splits), text-only mails, control characters
in names. A change to how mails are written must leave these bytes alone; if a change
is meant to alter them, re-record with ``python -m tests.unit.notifier.test_mail_golden``
and say why in the commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from services.notifier.mail import MailMeta, build_mail
from services.notifier.rendering import Rendered

from .test_mail import IDENTITY
from .test_wire import sample_mails

GOLDEN = Path(__file__).with_name("golden_mails.json")

_LONG_ASCII = ("word " * 40).strip() + "\n" + "x" * 150 + "\n" + "a=b " * 30 + "\n"
_LONG_KOREAN = "출금 지연 문의에 대한 답변입니다. " * 12 + "\n" + "가" * 120 + "\n"
_EDGE = "y" * 75 + "=\n" + "z" * 76 + " \n" + "w" * 74 + "\t\n" + "한 글 mixed " * 10 + "\n"


def corpus() -> dict[str, tuple[MailMeta, Rendered]]:
    mails: dict[str, tuple[MailMeta, Rendered]] = {}
    for n, (meta, rendered) in enumerate(sample_mails()):
        name = f"{n:02d}-{meta.locale}-{meta.template}"
        mails[name] = (meta, rendered)
        mails[f"{name}-long"] = (
            dataclasses.replace(
                meta,
                recipient_name=(meta.recipient_name or "") + " 김민준 Kim Minjun" * 4,
            ),
            Rendered(
                rendered.subject + " 긴 제목 long subject" * 5,
                rendered.text + _LONG_ASCII + _LONG_KOREAN + _EDGE,
                None if rendered.html is None else rendered.html + "<p>" + _LONG_KOREAN + "</p>",
            ),
        )
        mails[f"{name}-text-only"] = (
            dataclasses.replace(meta, recipient_name="Lee\r\nBcc: x@y.z\tSeo-yeon"),
            Rendered(rendered.subject, rendered.text, None),
        )
    return mails


def digests() -> dict[str, str]:
    return {
        name: hashlib.sha256(build_mail(IDENTITY, meta, rendered).raw).hexdigest()
        for name, (meta, rendered) in corpus().items()
    }


def test_every_corpus_mail_is_byte_for_byte_as_recorded():
    recorded = json.loads(GOLDEN.read_text())
    now = digests()
    assert len(now) >= 48
    assert now.keys() == recorded.keys()
    changed = [name for name in now if now[name] != recorded[name]]
    assert changed == []


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(digests(), indent=1, sort_keys=True) + "\n")
    print(f"recorded {GOLDEN}")
