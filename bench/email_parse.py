"""Raw mail → normalised interaction, messages per second on one core.

Repeated passes over the shared email corpus (104 real-world files: legacy
charsets, broken MIME, bounces, attachments) for about ``--seconds``, in this
one process, so the figure is per core. Also times a realistic support mail
mix: a Korean reply with quoted history, an HTML-only mail and a mail with a
PDF attachment.

Per core = messages per CPU-second of this single-threaded process (the wall
clock rate is printed too; on a busy shared machine it is lower).

    python -m bench.email_parse [--seconds 10]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from bench.common import latency_summary_ms, write_result
from services.email_ingest.normalise import MailContext, NormalisedMail, normalise_mail
from services.email_ingest.normalise.parsing import clear_header_cache

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "email"
TARGET_PER_CORE = 1_000


def corpus_mails() -> list[bytes]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix == ".eml")
    return [p.read_bytes() for p in files]


def support_mails() -> tuple[list[bytes], bytes]:
    """A Korean reply with quoted history and an HTML-only mail; and a 270 KB PDF mail."""
    korean = EmailMessage()
    korean["From"] = "김민수 <minsu@example.co.kr>"
    korean["To"] = "help@desk.example"
    korean["Subject"] = "Re: [#C-1234] 출금 지연 문의"
    korean["Message-ID"] = "<k1@example.co.kr>"
    korean.set_content(
        "아직도 출금이 처리되지 않았습니다. 확인 부탁드립니다.\n\n감사합니다.\n김민수\n\n"
        "2024년 1월 2일 (화) 오후 3:04, 고객센터 <help@desk.example>님이 작성:\n"
        + "> 안녕하세요, 고객님. 확인 후 안내드리겠습니다.\n"
        * 20,
        charset="euc-kr",
    )
    html = EmailMessage()
    html["From"] = "Jane <jane@example.com>"
    html["Subject"] = "Deposit missing"
    html["Message-ID"] = "<h1@example.com>"
    html.set_content(
        "<html><body><p>Hello,</p><p>My <b>deposit</b> of 0.5 BTC is missing.</p>"
        "<table><tr><td>TxID</td><td>abc123</td></tr></table></body></html>",
        subtype="html",
    )
    pdf = EmailMessage()
    pdf["From"] = "Bob <bob@example.com>"
    pdf["Subject"] = "KYC documents"
    pdf["Message-ID"] = "<p1@example.com>"
    pdf.set_content("Please find my documents attached.\n")
    pdf.add_attachment(b"%PDF-1.4\n" + b"0" * 200_000, maintype="application", subtype="pdf",
                       filename="passport.pdf")  # fmt: skip
    return [m.as_bytes(policy=SMTP) for m in (korean, html)], pdf.as_bytes(policy=SMTP)


def run(mails: list[bytes], seconds: float, *, cold: bool = False) -> dict[str, float]:
    """``cold``: forget parsed headers before each mail (no help from earlier mail)."""
    context = MailContext(mailbox_id="bench")
    received = datetime.now(UTC)
    durations: list[float] = []
    events = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    deadline = started + seconds
    passes = 0
    while time.perf_counter() < deadline:
        for raw in mails:
            if cold:
                clear_header_cache()
            before = time.perf_counter()
            result = normalise_mail(raw, context, received_at=received)
            durations.append(time.perf_counter() - before)
            events += isinstance(result, NormalisedMail)
        passes += 1
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "passes": passes,
        "messages": len(durations),
        "events": events,
        "wall_seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu, 3),
        # Per core = per CPU-second this process got: on a shared machine the
        # wall-clock rate also counts time the scheduler gave to others.
        "messages_per_s_per_core": round(len(durations) / cpu, 1),
        "messages_per_s_wall": round(len(durations) / elapsed, 1),
        "per_message": latency_summary_ms(durations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of each part.")
    args = parser.parse_args()
    part = args.seconds / 5
    texts, with_attachment = support_mails()
    figures = {
        "corpus": run(corpus_mails(), part * 2),
        "corpus_cold_headers": run(corpus_mails(), part, cold=True),
        "support_text_mix_cold": run(texts, part, cold=True),
    }
    attachment = run([with_attachment], part, cold=True)
    attachment["mb_per_s_per_core"] = round(
        len(with_attachment) * attachment["messages_per_s_per_core"] / 1e6, 1
    )
    write_result(
        "email_parse",
        {
            "target_messages_per_s_per_core": TARGET_PER_CORE,
            **figures,
            "pdf_attachment_270kb_cold": attachment,
            "meets_target": all(
                f["messages_per_s_per_core"] >= TARGET_PER_CORE for f in figures.values()
            ),
        },
    )


if __name__ == "__main__":
    main()
