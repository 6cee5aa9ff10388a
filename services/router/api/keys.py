"""/api-keys: admins issue (shown once, stored hashed), list and revoke keys."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from services.router.api.deps import AdminKey, ContextDep
from services.router.service.api_keys import (
    Role,
    create_api_key,
    key_id_of,
    list_api_keys,
    revoke_api_key,
)

router = APIRouter(prefix="/api-keys", tags=["api keys"])


class ApiKeyCreate(BaseModel):
    role: Role
    name: str = Field(..., min_length=1, max_length=120)
    agent_id: str | None = Field(None, description="The agent this key acts as (agent role).")


class ApiKeyCreated(BaseModel):
    id: str = Field(..., description="Use it to revoke the key.")
    key: str = Field(..., description="Shown once; only its SHA-256 is stored.")
    role: Role
    name: str


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    role: Role
    name: str
    agent_id: str | None
    created_at: datetime
    revoked_at: datetime | None


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Issue an API key",
)
async def create_key(body: ApiKeyCreate, ctx: ContextDep, _: AdminKey) -> ApiKeyCreated:
    key = await create_api_key(ctx, role=body.role, name=body.name, agent_id=body.agent_id)
    key_id = await key_id_of(ctx, key)
    assert key_id is not None
    return ApiKeyCreated(id=key_id, key=key, role=body.role, name=body.name)


@router.get("", response_model=list[ApiKeyRead], summary="List API keys (never the keys)")
async def read_keys(ctx: ContextDep, _: AdminKey) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(key) for key in await list_api_keys(ctx)]


@router.delete(
    "/{key_id}",
    response_model=ApiKeyRead,
    summary="Revoke an API key",
    responses={404: {"description": "No such key"}},
)
async def delete_key(key_id: str, ctx: ContextDep, _: AdminKey) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await revoke_api_key(ctx, key_id))
