"""Every corpus mail normalises to exactly what it did: a sha256 per file, committed.

Speed work on the normaliser must not change what agents read. Each file of the
shared corpus (and of our defect fixtures) is normalised and its whole result
serialised canonically (event id, the interaction's JSON, every blob's sha256,
fingerprint, defects; or the quarantine verdict); the digests live in
``fixtures/corpus_digests.json``. A change that is meant to alter output
rewrites them, on purpose and in its own commit:

    python -m tests.unit.email_ingest.test_corpus_digest --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from services.email_ingest.normalise import MailContext, NormalisedMail, normalise_mail
from tests.conftest import CORPUS
from tests.unit.email_ingest.mailbuild import RECEIVED

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DIGESTS = FIXTURES / "corpus_digests.json"
SOURCES = {"corpus": CORPUS, "defects": FIXTURES / "defects"}


def mail_files() -> dict[str, Path]:
    """Key (``corpus/…`` or ``defects/…``) → file."""
    files = {}
    for label, folder in SOURCES.items():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in ("README.md", "LICENSE"):
                files[f"{label}/{path.relative_to(folder)}"] = path
    return files


def canonical(raw: bytes) -> str:
    """The normaliser's whole result for ``raw`` as one JSON text."""
    result = normalise_mail(raw, MailContext(mailbox_id="support"), received_at=RECEIVED)
    if isinstance(result, NormalisedMail):
        value = {
            "event_id": result.event_id,
            "interaction": json.loads(result.interaction.model_dump_json()),
            "raw_sha256": result.raw_sha256,
            "blobs": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(result.blobs.items())},
            "fingerprint": result.fingerprint,
            "defects": list(result.defects),
        }
    else:
        value = {"quarantined": result.reason, "detail": result.detail, "raw": result.raw_sha256}
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def digest(raw: bytes) -> str:
    return hashlib.sha256(canonical(raw).encode("utf-8", "surrogatepass")).hexdigest()


def current_digests() -> dict[str, str]:
    return {key: digest(path.read_bytes()) for key, path in mail_files().items()}


def test_every_file_has_a_committed_digest():
    assert sorted(json.loads(DIGESTS.read_text())) == sorted(mail_files())


@pytest.mark.parametrize("key", sorted(mail_files()))
def test_normalised_output_is_unchanged(key: str):
    expected = json.loads(DIGESTS.read_text())[key]
    raw = mail_files()[key].read_bytes()
    assert digest(raw) == expected, canonical(raw)[:2000]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    DIGESTS.write_text(json.dumps(current_digests(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {DIGESTS}")
