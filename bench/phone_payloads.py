"""phone_log request builders for ``bench/webhook_load.py --target phone``.

Each ``seq`` is a distinct call (new call id, new customer number), so every
request is a new event and none is skipped as a recent duplicate.

    python -m bench.webhook_load --target phone --provider cti|twilio|asterisk|freeswitch
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from libs.common.webhooks import twilio_signature

BENCH_SECRET = "bench-secret-not-for-production"  # noqa: S105
BENCH_USER = "bench"
INTEGRATION_ID = "bench"
#: Twilio signs the public URL: the service is told it, as behind a real proxy, so the
#: signature does not depend on the Host header the load generator sends.
PUBLIC_BASE_URL = "https://bench.phone.example"
PROVIDERS = ("cti", "twilio", "asterisk", "freeswitch")


@dataclass(frozen=True)
class SampleRequest:
    method: str
    path: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


def service_env(topic: str) -> dict[str, str]:
    """Environment for `python -m services.phone_log`: one bench integration per provider."""
    common = {"id": INTEGRATION_ID, "queue": "bench"}
    integrations = [
        {**common, "provider": "twilio", "auth_token": BENCH_SECRET},
        {**common, "provider": "asterisk", "token": BENCH_SECRET},
        {**common, "provider": "freeswitch", "username": BENCH_USER, "password": BENCH_SECRET},
        {**common, "provider": "cti", "token": BENCH_SECRET},
    ]
    return {
        "PHONE_LOG_INTEGRATIONS": json.dumps(integrations),
        "PHONE_LOG_HTTP_HOST": "127.0.0.1",
        "PHONE_LOG_DEV_SAMPLES": "false",
        "PHONE_LOG_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }


def build_request(seq: int, base_url: str, *, provider: str = "cti") -> SampleRequest:
    builders = {
        "cti": cti_request,
        "twilio": twilio_request,
        "asterisk": asterisk_request,
        "freeswitch": freeswitch_request,
    }
    if provider not in builders:
        raise ValueError(f"phone provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    return builders[provider](seq, base_url)


def customer_number(seq: int) -> str:
    return f"+8210{5550000 + seq % 10_000_000:08d}"


def cti_request(seq: int, base_url: str) -> SampleRequest:
    fields = {
        "event": "hangup",
        "callId": f"bench-{seq}",
        "from": customer_number(seq).lstrip("+"),
        "to": "82212345678",
        "direction": "in",
        "cause": "noAnswer" if seq % 3 == 0 else "normalClearing",
        "answeringNumber": "" if seq % 3 == 0 else "1001",
    }
    return SampleRequest(
        "POST",
        f"/cti/{INTEGRATION_ID}/{BENCH_SECRET}",
        urlencode(fields).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def twilio_request(seq: int, base_url: str) -> SampleRequest:
    path = f"/twilio/{INTEGRATION_ID}/voice/status"
    status = ("completed", "no-answer", "busy", "ringing", "in-progress")[seq % 5]
    fields = {
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "ApiVersion": "2010-04-01",
        "CallSid": f"CA{seq:032x}",
        "CallStatus": status,
        "Direction": "inbound",
        "From": customer_number(seq),
        "To": "+82212345678",
        "Caller": customer_number(seq),
        "Called": "+82212345678",
        "CallDuration": "42" if status == "completed" else "0",
        "Timestamp": "Mon, 23 Nov 2026 01:00:00 +0000",
        "SequenceNumber": "0",
        "CallbackSource": "call-progress-events",
    }
    signature = twilio_signature(BENCH_SECRET, PUBLIC_BASE_URL + path, fields)
    return SampleRequest(
        "POST",
        path,
        urlencode(fields).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def asterisk_request(seq: int, base_url: str) -> SampleRequest:
    answered = seq % 4 != 0
    cdr = {
        "clid": f'"Bench {seq}" <{customer_number(seq)}>',
        "src": customer_number(seq),
        "dst": "0212345678",
        "dcontext": "from-pstn",
        "channel": f"PJSIP/trunk-{seq:08x}",
        "dstchannel": "PJSIP/1001-00000001" if answered else "",
        "lastapp": "Dial",
        "start": "2026-11-23 10:00:00",
        "answer": "2026-11-23 10:00:05" if answered else "",
        "end": "2026-11-23 10:02:00",
        "duration": "120",
        "billsec": "115" if answered else "0",
        "disposition": "ANSWERED" if answered else "NO ANSWER",
        "uniqueid": f"1795395600.{seq}",
        "linkedid": f"1795395600.{seq}",
    }
    body = "&".join(f"{k}={quote(v, safe='')}" for k, v in cdr.items()).encode()
    return SampleRequest(
        "POST",
        f"/asterisk/{INTEGRATION_ID}/cdr",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "X-Omnidesk-Token": BENCH_SECRET},
    )


def freeswitch_request(seq: int, base_url: str) -> SampleRequest:
    uuid = f"00000000-0000-4000-8000-{seq:012x}"
    variables = {
        "uuid": uuid,
        "direction": "inbound",
        "caller_id_number": quote(customer_number(seq), safe=""),
        "caller_id_name": quote("벤치 고객", safe=""),
        "destination_number": "0212345678",
        "start_epoch": "1795395600",
        "answer_epoch": "1795395602" if seq % 4 else "0",
        "end_epoch": "1795395700",
        "duration": "100",
        "billsec": "98" if seq % 4 else "0",
        "hangup_cause": "NORMAL_CLEARING" if seq % 4 else "ORIGINATOR_CANCEL",
        "last_app": "bridge",
    }
    text = json.dumps({"channel_data": {"direction": "inbound"}, "variables": variables})
    body = b"cdr=" + base64.b64encode(text.encode())
    credentials = base64.b64encode(f"{BENCH_USER}:{BENCH_SECRET}".encode()).decode()
    return SampleRequest(
        "POST",
        f"/freeswitch/{INTEGRATION_ID}/cdr?uuid={uuid}",
        body,
        {
            "Content-Type": "application/x-www-form-base64-encoded",
            "Authorization": f"Basic {credentials}",
        },
    )
