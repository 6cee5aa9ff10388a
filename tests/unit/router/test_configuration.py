from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.configuration import SAMPLE_DIR, ConfigError, load_config
from services.router.domain.policies import PolicySet, select_policy


def sample():
    return load_config(
        SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
    )


def test_samples_load_and_reference_known_queues():
    config = sample()
    assert config.check_references() == []
    assert {a.id for a in config.roster.agents} >= {"agent-park", "agent-smith"}
    assert config.policies.calendar_objects["kst-business"].timezone == "Asia/Seoul"


def test_policy_selection_first_match_and_catch_all():
    policies = sample().policies
    assert (
        select_policy(policies, queue="demo", priority=Priority.NORMAL, channel=Channel.EMAIL).name
        == "demo-2-minutes"
    )
    assert (
        select_policy(policies, queue="general", priority=Priority.LOW, channel=Channel.CHAT).name
        == "chat"
    )
    email = select_policy(policies, queue="general", priority=Priority.LOW, channel=Channel.EMAIL)
    assert email.name == "email-30-minutes" and email.first_response_minutes == 30


def _policies(**change):
    data = yaml.safe_load((SAMPLE_DIR / "policies.yaml").read_text())
    data.update(change)
    return data


def test_policy_file_refuses_nonsense():
    data = _policies()
    data["calendars"]["kst-business"]["timezone"] = "Mars/Olympus"
    with pytest.raises(ValidationError):
        PolicySet.model_validate(data)
    data = _policies()
    data["policies"][-1]["match"] = {"channels": ["email"]}
    with pytest.raises(ValidationError, match="last policy"):
        PolicySet.model_validate(data)
    data = _policies()
    data["policies"][0]["escalation"][1]["move_to_queue"] = "nowhere"
    with pytest.raises(ValidationError, match="unknown queue"):
        PolicySet.model_validate(data)
    data = _policies()
    data["calendars"]["kst-business"]["hours"]["mon"] = ["18:00-09:00"]
    with pytest.raises((ValidationError, ValueError)):
        PolicySet.model_validate(data)


def test_broken_yaml_names_the_file(tmp_path: Path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules: [ {name: x, then: {queue: nowhere}} ]")
    with pytest.raises(ConfigError, match="nowhere"):
        load_config(bad, SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml")
    bad.write_text("rules: [")
    with pytest.raises(ConfigError, match=str(bad)):
        load_config(bad, SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml")
