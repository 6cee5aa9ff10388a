"""OpenAPI descriptions for routes that read the raw body themselves.

Webhook routes must verify the signature on the exact bytes before parsing,
so they cannot declare a pydantic body parameter; ``request_body`` documents
the body instead (refs inlined so the schema stands alone).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace ``#/$defs/X`` references with the definitions (non-recursive models)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    return inline_refs(model.model_json_schema())


def request_body(content: dict[str, type[BaseModel]], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route: ``{media type: model}`` of the raw body."""
    return {
        "requestBody": {
            "required": required,
            "content": {
                media_type: {"schema": model_schema(model)} for media_type, model in content.items()
            },
        }
    }


def document_400_not_422(app: FastAPI) -> None:
    """Validation errors answer 400 here (see errors.py), so drop FastAPI's 422 entries."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
