"""Load and validate the rules, policies and agents YAML files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.router.domain.agents import AgentRoster
from services.router.domain.classification import RuleSet
from services.router.domain.policies import PolicySet

SAMPLE_DIR = Path(__file__).resolve().parent / "config"


class ConfigError(ValueError):
    """A configuration file is missing or invalid; the message names the file."""


@dataclass(frozen=True)
class RouterConfig:
    rules: RuleSet
    policies: PolicySet
    roster: AgentRoster

    def check_references(self) -> list[str]:
        """Queues named by rules or agents that the policies do not define."""
        known = {q.name for q in self.policies.queues}
        problems = []
        named = {self.rules.defaults.queue} | {
            r.then.queue for r in self.rules.rules if r.then.queue
        }
        for queue in sorted(named - known):
            problems.append(f"rules name queue {queue!r}, not defined in the policies file")
        for agent in self.roster.agents:
            for queue in sorted(set(agent.queues) - known):
                problems.append(f"agent {agent.id} is in queue {queue!r}, not defined")
        return problems


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def _validate(model: type, path: Path):  # type: ignore[no-untyped-def]
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_config(rules_path: Path, policies_path: Path, agents_path: Path) -> RouterConfig:
    config = RouterConfig(
        rules=_validate(RuleSet, rules_path),
        policies=_validate(PolicySet, policies_path),
        roster=_validate(AgentRoster, agents_path),
    )
    problems = config.check_references()
    if problems:
        raise ConfigError("; ".join(problems))
    return config
