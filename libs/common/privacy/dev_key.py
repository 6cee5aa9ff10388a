"""The development ``PRIVACY_HASH_KEY``: generated once, kept in the dev data dir (0600).

``omnidesk dev up`` runs every service with embedded defaults; without a hash
key they store no identifier hashes and erasure by identifier finds nothing.
So ``dev up`` gives them one: the first run generates a random key into
``<OMNIDESK_HOME>/dev-privacy-hash-key``, every later run (and ``omnidesk
privacy forget`` on the same machine) reads the same file — the hashes stored
yesterday still match today's requests. A ``PRIVACY_HASH_KEY`` in the
environment always wins. Never for production: there the deployment's secret
store holds it (deploy/init-env.sh, the Helm/kustomize secrets).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path

from libs.common.privacy.identifiers import MIN_KEY_CHARS

FILE_NAME = "dev-privacy-hash-key"
ENV_NAME = "PRIVACY_HASH_KEY"


def dev_key_file(home: Path) -> Path:
    return home / FILE_NAME


def read_dev_hash_key(home: Path) -> str | None:
    """The key an earlier ``dev up`` generated here, if any."""
    try:
        key = dev_key_file(home).read_text().strip()
    except FileNotFoundError:
        return None
    return key if len(key) >= MIN_KEY_CHARS else None


def dev_hash_key(home: Path) -> str:
    """The kept key, or a new random one written (owner-only) and returned."""
    kept = read_dev_hash_key(home)
    if kept is not None:
        return kept
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path = dev_key_file(home)
    # Created 0600 from the start (no window where it is readable by others); a
    # leftover too-short file is replaced.
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def use_dev_hash_key(home: Path, environ: MutableMapping[str, str]) -> str | None:
    """Put the dev key into ``environ`` unless it names one; returns the file used, or
    None when the environment's own key stays."""
    if environ.get(ENV_NAME, "").strip():
        return None
    environ[ENV_NAME] = dev_hash_key(home)
    return str(dev_key_file(home))
