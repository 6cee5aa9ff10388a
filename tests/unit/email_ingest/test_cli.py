from __future__ import annotations

import json

from typer.testing import CliRunner

from services.email_ingest.cli import app
from tests.conftest import CORPUS

MIKEL = CORPUS / "mikel-mail"


def test_parse_prints_the_event_as_json():
    result = CliRunner().invoke(app, ["parse", str(MIKEL / "multi_charset" / "ks_c_5601-1987.eml")])
    assert result.exit_code == 0, result.output
    event = json.loads(result.output)
    assert event["type"] == "support.message.received"
    assert event["source"] == "omnidesk/email_ingest/cli"
    assert event["data"]["body"]["text"] == "스티해"
    assert event["data"]["customer"]["email"] == "from@example.com"


def test_parse_of_unusable_mail_prints_the_verdict_and_exits_2():
    result = CliRunner().invoke(app, ["parse", str(MIKEL / "sample_output_multipart")])
    assert result.exit_code == 2
    assert json.loads(result.output)["quarantined"] == "empty"


def test_check_without_mailboxes_says_so(monkeypatch):
    monkeypatch.delenv("EMAIL_INGEST_MAILBOXES", raising=False)
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1
    assert "no mailbox configured" in result.output
