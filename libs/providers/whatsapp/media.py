"""WhatsApp Cloud API media download: ``GET /{Version}/{Media-ID}``, then its ``url``.

Reference: developers.facebook.com/docs/whatsapp/cloud-api/reference/media
("Retrieve Media URL": ``GET /<MEDIA_ID>`` with ``Authorization: Bearer``
answers ``messaging_product``, ``url``, ``mime_type``, ``sha256``,
``file_size``, ``id``; "Download Media": ``GET <url>`` with the same bearer
token; the URL is valid for 5 minutes — ask again after) and
support/error-codes (Graph error body; 190 invalid token, 100 for an id that
does not exist).
"""

from __future__ import annotations

import hashlib

import httpx

from libs.providers.integrations import Integration
from libs.providers.media import MediaUnavailable, json_or_none, read_capped
from libs.providers.sending import as_dict, base_url, secret
from libs.providers.whatsapp.outbound import API_BASE_URL

REFERENCE_PREFIX = "whatsapp-media:"


async def download(
    client: httpx.AsyncClient, integration: Integration, media_id: str, *, max_bytes: int
) -> bytes:
    credentials = integration.outbound
    root = base_url(integration, API_BASE_URL)
    headers = {"Authorization": f"Bearer {secret(credentials.token)}"}
    answer = await client.get(f"{root}/{credentials.api_version}/{media_id}", headers=headers)
    body = as_dict(json_or_none(answer))
    if answer.status_code != 200:
        error = as_dict(body.get("error"))
        raise MediaUnavailable(
            f"whatsapp media {answer.status_code}: {error.get('message') or answer.text[:200]}"
        )
    url, size, digest = body.get("url"), body.get("file_size"), body.get("sha256")
    if not isinstance(url, str) or not url:
        raise MediaUnavailable("whatsapp media answered no url")
    if str(size or "").isdigit() and int(str(size)) > max_bytes:
        raise MediaUnavailable(f"whatsapp media of {size} bytes is over the {max_bytes} limit")
    downloaded = await read_capped(
        client, url, what="whatsapp media", max_bytes=max_bytes, headers=headers
    )
    data = downloaded.data
    if isinstance(digest, str) and digest and hashlib.sha256(data).hexdigest() != digest.lower():
        raise MediaUnavailable("whatsapp media bytes do not match the sha256 Meta gave")
    return bytes(data)
