"""/api-keys: admins issue keys (shown once, stored hashed)."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from services.router.api.deps import AdminKey, ContextDep
from services.router.service.api_keys import Role, create_api_key

router = APIRouter(prefix="/api-keys", tags=["api keys"])


class ApiKeyCreate(BaseModel):
    role: Role
    name: str = Field(..., min_length=1, max_length=120)
    agent_id: str | None = Field(None, description="The agent this key acts as (agent role).")


class ApiKeyCreated(BaseModel):
    key: str = Field(..., description="Shown once; only its SHA-256 is stored.")
    role: Role
    name: str


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Issue an API key",
)
async def create_key(body: ApiKeyCreate, ctx: ContextDep, _: AdminKey) -> ApiKeyCreated:
    key = await create_api_key(ctx, role=body.role, name=body.name, agent_id=body.agent_id)
    return ApiKeyCreated(key=key, role=body.role, name=body.name)
