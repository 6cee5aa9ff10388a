"""Every corpus mail through the normaliser of another revision and of this tree: what changed.

A change to the normaliser must not quietly change what agents read for mail
it already handled. This parses every file of the shared email corpus with the
normaliser as it is at ``--ref`` (default ``main``; extracted with ``git
archive`` into a temporary folder) and as it is in the working tree, each in
its own process, and compares the events field by field.

    python -m bench.email_corpus_diff [--ref main] [--corpus ../shared/corpus/email]

Prints, per changed file, the fields that differ with both values (shortened),
and a count per field; writes ``bench/results/email_corpus_diff.json`` (summary)
and ``email_corpus_diff.changes.json`` (every changed value in full).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_result

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "email"
RECEIVED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
#: Source folders the normaliser needs from the other revision.
ARCHIVED = ("services/__init__.py", "services/email_ingest", "libs")


def corpus_files(corpus: Path) -> list[Path]:
    skip = {"README.md", "LICENSE"}
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name not in skip)


def dump(corpus: Path) -> dict[str, Any]:
    """Run inside the tree being measured: file → event JSON or quarantine verdict."""
    from services.email_ingest.normalise import MailContext, NormalisedMail, normalise_mail

    out: dict[str, Any] = {}
    for path in corpus_files(corpus):
        result = normalise_mail(
            path.read_bytes(), MailContext(mailbox_id="support"), received_at=RECEIVED
        )
        key = str(path.relative_to(corpus))
        if isinstance(result, NormalisedMail):
            out[key] = {"event_id": result.event_id, **result.interaction.model_dump(mode="json")}
        else:
            out[key] = {"quarantined": result.reason, "detail": result.detail}
    return out


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return flat
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        flat = {f"{prefix}.count": len(value)}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    changes: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = flatten(before.get(name, {})), flatten(after.get(name, {}))
        fields = {
            field: {"before": old.get(field), "after": new.get(field)}
            for field in sorted(set(old) | set(new))
            if old.get(field) != new.get(field)
        }
        if fields:
            changes[name] = fields
    return changes


def _field_family(field: str) -> str:
    return field.split("[", 1)[0] if "[" in field else field


def _short(value: Any, limit: int = 90) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _run_dump(tree: Path, corpus: Path) -> dict[str, Any]:
    # The normaliser comes from `tree` (first on the path), this script from ROOT.
    script = (
        "import json, sys; from pathlib import Path; sys.path[:0] = sys.argv[1:3];"
        "import services.email_ingest as s; assert s.__file__.startswith(sys.argv[1]), s.__file__;"
        "from bench.email_corpus_diff import dump; print(json.dumps(dump(Path(sys.argv[3]))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tree), str(ROOT), str(corpus)],
        capture_output=True,
        check=True,
        cwd=tree,
    )
    return json.loads(result.stdout)


def _extract(ref: str, target: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, *ARCHIVED],
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="git revision to compare against")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="email-corpus-diff-") as folder:
        _extract(args.ref, Path(folder))
        before = _run_dump(Path(folder), args.corpus)
    after = _run_dump(ROOT, args.corpus)
    changes = compare(before, after)
    per_field = Counter(_field_family(f) for fields in changes.values() for f in fields)
    for name, fields in changes.items():
        print(f"\n{name}")
        for field, values in fields.items():
            print(f"  {field}: {_short(values['before'])} -> {_short(values['after'])}")
    print(f"\n{len(changes)} of {len(after)} files changed; per field:")
    for field, count in per_field.most_common():
        print(f"  {count:4d}  {field}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    details = RESULTS / "email_corpus_diff.changes.json"
    details.write_text(json.dumps(changes, indent=2, ensure_ascii=False) + "\n")
    write_result(
        "email_corpus_diff",
        {
            "ref": args.ref,
            "files": len(after),
            "changed_files": sorted(changes),
            "changes_per_field": dict(per_field.most_common()),
            "details": str(details),
        },
    )


if __name__ == "__main__":
    main()
