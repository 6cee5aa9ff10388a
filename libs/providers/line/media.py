"""LINE content sent by users: ``GET /v2/bot/message/{messageId}/content`` on api-data.

References (developers.line.biz/en/reference/messaging-api/):
- #get-content: ``GET https://api-data.line.me/v2/bot/message/{messageId}/content``
  with ``Authorization: Bearer {channel access token}``; 200 with the bytes and
  their ``Content-Type``; 404 when there is no such content (or it is gone:
  content is kept for a limited time); video and audio still being prepared
  answer **202** and no content.
- #verify-video-or-audio-preparation-status: ``GET …/{messageId}/content/transcoding``
  answers ``{"status": "processing" | "succeeded" | "failed"}``.
- #error-responses: ``{"message": …}`` bodies; 401 for a bad token.
Content an image/video/audio/file message refers to an *external* provider
(``contentProvider.type == "external"``) is a URL, not this reference.

A 202 is waited out by asking the transcoding status every
``PREPARATION_POLL_S``; the caller's time limit bounds the wait (the reference
is kept when it runs out).
"""

from __future__ import annotations

import asyncio

import httpx

from libs.providers.integrations import Integration
from libs.providers.media import MediaUnavailable, json_or_none, read_capped
from libs.providers.sending import as_dict, base_url, secret

#: Content lives on its own host (not api.line.me); one ``api_base_url`` overrides both.
DATA_API_BASE_URL = "https://api-data.line.me"
REFERENCE_PREFIX = "line-content:"
PREPARATION_POLL_S = 0.5
PREPARING = 202


async def download(
    client: httpx.AsyncClient, integration: Integration, message_id: str, *, max_bytes: int
) -> bytes:
    content = f"{base_url(integration, DATA_API_BASE_URL)}/v2/bot/message/{message_id}/content"
    headers = {"Authorization": f"Bearer {secret(integration.outbound.token)}"}
    while True:
        try:
            downloaded = await read_capped(
                client, content, what="line content", max_bytes=max_bytes, headers=headers
            )
        except MediaUnavailable as exc:
            if exc.status != PREPARING:
                raise
        else:
            return downloaded.data
        await _prepared(client, f"{content}/transcoding", headers)


async def _prepared(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
    """Return once LINE says the video/audio is ready; raise when it says it failed."""
    while True:
        answer = await client.get(url, headers=headers)
        status = as_dict(json_or_none(answer)).get("status")
        if answer.status_code != 200:
            raise MediaUnavailable(f"line transcoding status {answer.status_code}")
        if status == "succeeded":
            return
        if status != "processing":
            raise MediaUnavailable(f"line could not prepare the content ({status})")
        await asyncio.sleep(PREPARATION_POLL_S)
