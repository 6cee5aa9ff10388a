"""The configuration reference, generated from the settings classes.

Never hand-copied: the README section and ``deploy/.env.example`` come from
here (``omnidesk config reference`` / ``omnidesk config env-example``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from libs.common.privacy.identifiers import PrivacySettings
from libs.common.settings import KafkaSettings, TopicSettings, default_home
from tools.services import SERVICES


@dataclass(frozen=True)
class SettingDoc:
    env: str
    default: str
    description: str
    secret: bool


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    """(title, class) for the shared Kafka settings and each service that exists."""
    found: list[tuple[str, type[BaseSettings]]] = [
        ("Kafka (all services)", KafkaSettings),
        ("Kafka topics (all services)", TopicSettings),
        ("Privacy (every service holding personal data)", PrivacySettings),
    ]
    found.extend((service.name, service.settings()) for service in SERVICES)
    return found


def document(cls: type[BaseSettings]) -> list[SettingDoc]:
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    docs = []
    for name, field in cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            continue  # nested settings read their own prefix (KAFKA_ …) and are listed there
        docs.append(
            SettingDoc(
                env=f"{prefix}{name.upper()}",
                default=_render_default(field),
                description=(field.description or "").strip(),
                secret=_is_secret(annotation),
            )
        )
    return docs


def _is_secret(annotation: Any) -> bool:
    return "SecretStr" in repr(annotation)


def _render_default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return ""
    else:
        return ""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return ""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Path):
        return _symbolic_path(value)
    return str(getattr(value, "value", value))


_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the checkout: tools/ sits at its top


def _symbolic_path(path: Path) -> str:
    """Machine-independent: ``$OMNIDESK_HOME/…`` or a file shipped in the package."""
    resolved = path.expanduser().resolve()
    for base, label in ((default_home().resolve(), "$OMNIDESK_HOME"), (_PACKAGE_ROOT, "")):
        if resolved.is_relative_to(base):
            relative = resolved.relative_to(base).as_posix()
            return f"{label}/{relative}" if label else f"(built in) {relative}"
    return str(path)


def _symbolic(default: str) -> bool:
    return default.startswith(("$OMNIDESK_HOME", "(built in)"))


def markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings classes by `omnidesk config reference`.",
        "",
    ]
    for title, cls in settings_classes():
        lines += [f"## {title}", "", "| variable | default | description |", "|---|---|---|"]
        for doc in document(cls):
            default = "(secret)" if doc.secret else f"`{doc.default}`" if doc.default else ""
            lines.append(f"| `{doc.env}` | {default} | {doc.description.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


def env_example() -> str:
    lines = ["# Every omnidesk setting with its default (generated: omnidesk config env-example)."]
    for title, cls in settings_classes():
        lines += ["", f"# --- {title} ---"]
        for doc in document(cls):
            if doc.description:
                lines.append(f"# {doc.description}")
            if _symbolic(doc.default):
                lines.append(f"# {doc.env}=   (default: {doc.default})")
            else:
                lines.append(f"{doc.env}={'' if doc.secret else _quote(doc.default)}")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return f"'{value}'" if any(c in value for c in ' #"{[') else value
