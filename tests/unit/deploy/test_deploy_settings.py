"""Deployment files name only settings that exist, and .env.example is current.

(Rendering and schema validation of compose and Kubernetes: deploy/validate.sh,
run by .ci/run.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tools.config_reference import document, env_example, settings_classes

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def known_variables() -> set[str]:
    return {doc.env for _, cls in settings_classes() for doc in document(cls)}


def compose_variables() -> set[str]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    names: set[str] = set()
    for service in compose["services"].values():
        if service.get("image", "").startswith("${OMNIDESK_IMAGE"):
            names.update(service.get("environment", {}))
    return names


def env_file_variables(path: Path) -> set[str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


@pytest.mark.parametrize(
    "source",
    [
        "compose",
        "k8s/base/config.env",
        "k8s/base/secrets.env",
        "k8s/overlays/production/config.env",
        "k8s/overlays/production/secrets.env",
    ],
)
def test_deployment_files_name_real_settings(source):
    names = compose_variables() if source == "compose" else env_file_variables(DEPLOY / source)
    unknown = sorted(names - known_variables())
    assert not unknown, f"{source} sets variables no settings class reads: {unknown}"


def test_env_example_is_generated_from_the_settings():
    assert (DEPLOY / ".env.example").read_text() == env_example(), (
        "deploy/.env.example is stale: run `omnidesk config env-example > deploy/.env.example`"
    )


def test_configuration_reference_is_generated_from_the_settings():
    from tools.config_reference import markdown

    docs = DEPLOY.parent / "docs" / "configuration.md"
    assert docs.read_text() == markdown() + "\n", (
        "docs/configuration.md is stale: run `omnidesk config reference > docs/configuration.md`"
    )


def test_helm_values_name_real_settings():
    chart = DEPLOY / "helm" / "omnidesk"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    names = set(values["config"]) | set(values["secrets"]["values"])
    for service in values["services"].values():
        names |= set(service["env"])
        names |= {f"{service['portSetting']}_HOST", f"{service['portSetting']}_PORT"}
    configmap = (chart / "templates" / "configmap.yaml").read_text()
    fixed = set(re.findall(r"^  ([A-Z][A-Z0-9_]+):", configmap, flags=re.MULTILINE))
    assert "CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY" in fixed
    unknown = sorted((names | fixed) - known_variables())
    assert not unknown, f"the Helm chart sets variables no settings class reads: {unknown}"
