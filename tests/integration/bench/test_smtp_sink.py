"""bench.smtp_sink: aiosmtpd in its own process, counted and read over a pipe (real SMTP)."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from bench.cpu_accounting import CpuMeter, cpu_split
from bench.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration


def mail(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "desk@omnidesk.localhost"
    message["To"] = f"agent-{n}@desk.example"
    message["Subject"] = f"assigned {n}"
    message.set_content(f"Visitor pbrunx{n} is waiting")
    return message


def test_the_sink_is_its_own_process_and_keeps_what_it_received() -> None:
    with SmtpSink(keep=True) as sink:
        assert Path(f"/proc/{sink.pid}").exists()
        meter = CpuMeter({"sink": sink.pid})
        before = meter.sample()
        sent_at = time.time()
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            for n in range(3):
                client.send_message(mail(n))
        count, last_at = sink.counted()
        assert count == 3
        assert sent_at <= last_at <= time.time()
        arrivals = sink.take()
        assert [b"pbrunx%d" % n in raw for n, (_, raw) in enumerate(arrivals)] == [True] * 3
        assert sink.take() == []  # taken once
        assert sink.count() == 3  # the count stays
        split = cpu_split(before, meter.sample(), messages=3, cpus=1)
        assert split["processes"]["sink"]["cpu_s_per_1000"] is not None  # its pid was read
    assert not Path(f"/proc/{sink.pid}").exists()  # stopped and waited for


def test_a_counting_sink_keeps_no_bodies() -> None:
    with SmtpSink(keep=False) as sink:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            client.send_message(mail(1))
        assert sink.count() == 1
        assert sink.take() == []
