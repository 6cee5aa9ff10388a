from typer.testing import CliRunner

from services.router.cli import app


def test_check_config_accepts_the_samples():
    result = CliRunner().invoke(app, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "8 queues" in result.output and "4 agents" in result.output


def test_check_config_names_the_broken_file(tmp_path, monkeypatch):
    broken = tmp_path / "rules.yaml"
    broken.write_text("rules: [{name: x, then: {queue: atlantis}}]")
    monkeypatch.setenv("ROUTER_RULES_PATH", str(broken))
    result = CliRunner().invoke(app, ["check-config"])
    assert result.exit_code == 1 and "atlantis" in result.output


def test_create_api_key_refuses_unknown_roles(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTER_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["create-api-key", "--role", "root"])
    assert result.exit_code == 2
