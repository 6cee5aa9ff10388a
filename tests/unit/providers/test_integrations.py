"""The shared integration list: outbound credentials are secrets, typos are refused."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from libs.providers.integrations import Integration, parse_integrations
from libs.providers.registry import missing_outbound

RAW = [
    {
        "id": "wa-main",
        "provider": "whatsapp",
        "secret": "meta-app-secret-value",
        "outbound": {
            "token": "EAAG-very-secret-access-token",
            "phone_number_id": "1065",
            "window_template": "omnidesk_reply",
        },
    },
    {
        "id": "ct",
        "provider": "channeltalk",
        "secret": "ct-webhook-token",
        "outbound": {"access_key": "ak-secret-value", "access_secret": "as-secret-value"},
    },
    {"id": "sms", "provider": "twilio", "secret": "twilio-auth-token-value"},
]


def test_outbound_secrets_are_never_shown():
    integrations = parse_integrations(json.dumps(RAW))
    shown = json.dumps([i.describe() for i in integrations]) + repr(integrations)
    for secret in ("EAAG-very-secret-access-token", "ak-secret-value", "as-secret-value"):
        assert secret not in shown
    assert integrations[0].describe()["outbound"]["token"] == "set"
    assert integrations[0].describe()["outbound"]["phone_number_id"] == "1065"


def test_a_misspelt_outbound_field_stops_the_service_at_start():
    bad = [{**RAW[0], "outbound": {"acces_token": "x"}}]
    with pytest.raises(ValidationError, match="acces_token"):
        parse_integrations(bad)


def test_missing_outbound_names_what_each_provider_needs():
    whatsapp, channeltalk, twilio = parse_integrations(RAW)
    assert missing_outbound(whatsapp) == []
    assert missing_outbound(channeltalk) == []
    # Twilio's auth token defaults to the inbound secret; the sender and SID must be set.
    assert missing_outbound(twilio) == ["account_sid", "from_number or messaging_service_sid"]
    bare = Integration(id="tg", provider="telegram", secret="s")
    assert missing_outbound(bare) == ["token"]
