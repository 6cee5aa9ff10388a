"""`omnidesk dev up`'s PRIVACY_HASH_KEY: generated once, kept owner-only, reused;
`omnidesk privacy forget` on the same machine finds it; deploy/init-env.sh
generates one for compose."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from libs.common.privacy.dev_key import dev_key_file, use_dev_hash_key
from libs.common.privacy.identifiers import PrivacySettings
from tools.cli.main import app

REPO = Path(__file__).resolve().parents[3]


def test_the_dev_key_is_generated_once_owner_only_and_reused(tmp_path):
    home = tmp_path / "omnidesk"
    first: dict[str, str] = {}
    assert use_dev_hash_key(home, first) == str(dev_key_file(home))
    key = first["PRIVACY_HASH_KEY"]
    assert PrivacySettings(hash_key=key).hasher() is not None  # long enough to be used
    assert stat.S_IMODE(dev_key_file(home).stat().st_mode) == 0o600
    again: dict[str, str] = {}
    use_dev_hash_key(home, again)
    assert again["PRIVACY_HASH_KEY"] == key  # yesterday's hashes still match


def test_a_key_in_the_environment_wins(tmp_path):
    environ = {"PRIVACY_HASH_KEY": "operator-chosen-key-0123456789-abcdef"}
    assert use_dev_hash_key(tmp_path, environ) is None
    assert environ["PRIVACY_HASH_KEY"] == "operator-chosen-key-0123456789-abcdef"
    assert not dev_key_file(tmp_path).exists()
    empty = {"PRIVACY_HASH_KEY": ""}  # an env file's "KEY=" means unset
    assert use_dev_hash_key(tmp_path, empty) is not None and empty["PRIVACY_HASH_KEY"]


def test_forget_uses_the_dev_key_of_this_machine(tmp_path):
    runner = CliRunner()
    env = {"OMNIDESK_HOME": str(tmp_path), "PRIVACY_HASH_KEY": ""}
    args = ["privacy", "forget", "--email", "a@example.com", "--no-publish"]
    missing = runner.invoke(app, args, env=env)
    assert missing.exit_code == 2 and "PRIVACY_HASH_KEY is not set" in missing.output
    use_dev_hash_key(tmp_path, {})
    found = runner.invoke(app, args, env=env)
    assert "using the development key" in found.output, found.output
    assert found.exit_code == 0, found.output


def test_init_env_generates_the_privacy_hash_key_once(tmp_path):
    env_file = tmp_path / ".env"
    script = REPO / "deploy" / "init-env.sh"
    subprocess.run(["sh", str(script), str(env_file)], check=True, capture_output=True)
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    key = values["PRIVACY_HASH_KEY"]
    assert len(key) >= 32 and PrivacySettings(hash_key=key).hasher() is not None
    subprocess.run(["sh", str(script), str(env_file)], check=True, capture_output=True)
    assert f"PRIVACY_HASH_KEY={key}" in env_file.read_text()  # kept: never rotated by it
