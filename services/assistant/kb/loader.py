"""Folder (or file) → a validated knowledge base, or the problems with file and line.

Pure apart from reading the files: no state, nothing cached, so the reloader
can call it in a worker thread and keep the last good result on errors.
YAML is composed to nodes first so every problem can name its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from services.assistant.kb.model import KbFile, KnowledgeBase


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class KbLoad:
    """Exactly one of ``kb`` and ``problems`` is meaningful."""

    kb: KnowledgeBase | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.kb is not None and not self.problems


def kb_files(path: Path) -> list[Path]:
    """A folder means every ``*.yaml`` / ``*.yml`` in it (sorted); a file means itself."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


#: The desk vocabulary shipped with the service (see the file's header).
BUILTIN_SYNONYMS = Path(__file__).with_name("synonyms.yaml")


def load_kb(path: Path, *, base_synonyms: Path | None = BUILTIN_SYNONYMS) -> KbLoad:
    """Every problem of every file, or the merged KB; ``base_synonyms`` is merged
    under the KB's own synonym groups (groups sharing a term become one)."""
    if not path.exists():
        return KbLoad(None, (Problem(str(path), None, "no such file or folder"),))
    files = kb_files(path)
    if not files:
        return KbLoad(None, (Problem(str(path), None, "no *.yaml files in the folder"),))
    problems: list[Problem] = []
    parsed: list[tuple[Path, KbFile, yaml.Node]] = []
    for file in files:
        result = _load_file(file)
        if isinstance(result, list):
            problems.extend(result)
        else:
            parsed.append((file, *result))
    problems.extend(_cross_file_problems(parsed))
    base_groups: list[list[str]] = []
    if base_synonyms is not None:
        base = _load_file(base_synonyms)
        if isinstance(base, list):
            problems.extend(base)
        else:
            base_groups = base[0].synonyms
    if problems:
        return KbLoad(None, tuple(problems))
    kb = KnowledgeBase(
        articles=tuple(a for _, f, _ in parsed for a in f.articles),
        synonyms=merge_synonym_groups(
            [*base_groups, *(g for _, f, _ in parsed for g in f.synonyms)]
        ),
        sources=tuple(str(p) for p, _, _ in parsed),
    )
    return KbLoad(kb, ())


def merge_synonym_groups(groups: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """Groups that share a term (case-insensitively) become one, in first-seen order."""
    merged: list[list[str]] = []
    for group in groups:
        keys = {term.lower() for term in group}
        overlapping = [m for m in merged if keys & {t.lower() for t in m}]
        target = overlapping[0] if overlapping else []
        if not overlapping:
            merged.append(target)
        for other in overlapping[1:]:
            target.extend(other)
            merged.remove(other)
        target.extend(group)
    return tuple(tuple(dict.fromkeys(g, None)) for g in _dedupe_case(merged))


def _dedupe_case(groups: list[list[str]]) -> list[list[str]]:
    result = []
    for group in groups:
        seen: dict[str, str] = {}
        for term in group:
            seen.setdefault(term.lower(), term)
        result.append(list(seen.values()))
    return result


def _load_file(file: Path) -> tuple[KbFile, yaml.Node] | list[Problem]:
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(name, None, f"cannot read: {exc}")]
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return [Problem(name, None, "the file is empty")]
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return [Problem(name, line, f"YAML: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return [Problem(name, None, f"YAML: {exc}")]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return [Problem(name, _line(node), "the top level must be a mapping with 'articles'")]
    try:
        return KbFile.model_validate(data), node
    except ValidationError as exc:
        return [
            Problem(name, _line(_node_at(node, err["loc"])), _describe(err)) for err in exc.errors()
        ]


def _cross_file_problems(parsed: list[tuple[Path, KbFile, yaml.Node]]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    seen_terms: dict[str, str] = {}
    for file, kb_file, node in parsed:
        for index, article in enumerate(kb_file.articles):
            line = _line(_node_at(node, ("articles", index, "id")))
            where = f"{file}:{line}"
            if article.id in seen_ids:
                problems.append(
                    Problem(
                        str(file),
                        line,
                        f"duplicate article id {article.id!r} (first at {seen_ids[article.id]})",
                    )
                )
            else:
                seen_ids[article.id] = where
        for index, group in enumerate(kb_file.synonyms):
            line = _line(_node_at(node, ("synonyms", index)))
            for term in group:
                key = term.lower()
                if key in seen_terms and seen_terms[key] != f"{file}:{line}":
                    problems.append(
                        Problem(
                            str(file),
                            line,
                            f"synonym {term!r} is in two groups (also at {seen_terms[key]})",
                        )
                    )
                seen_terms.setdefault(key, f"{file}:{line}")
    return problems


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        field = error["loc"][-1]
        return f"{loc}: unknown field or language {field!r} (languages: ko, en)"
    if error["type"] == "missing":
        return f"{loc}: missing"
    return f"{loc}: {error['msg']}"


def _node_at(root: yaml.Node, loc: Sequence[Any]) -> yaml.Node:
    """The deepest node along a pydantic error location (the parent when a key is missing)."""
    node = root
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == str(part):
                return key if isinstance(value, yaml.ScalarNode) and value.value == "" else value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None
