"""What fetching a provider's media shares: the failure, and a size-capped download.

Telegram files, WhatsApp media, Slack private files and LINE content are all a
reference in the webhook and bytes behind an authenticated GET; the bytes are
read in chunks and the download stops as soon as it passes the limit (a
provider's declared size is not trusted to be right).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx


class MediaUnavailable(RuntimeError):
    """The file could not be fetched (refused, too big, gone); the reference stays."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Downloaded:
    data: bytes
    content_type: str  # as the provider served it ("" when it said nothing)


async def read_capped(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
) -> Downloaded:
    """GET ``url``; only a 200 counts (its status is on the error otherwise)."""
    async with client.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            detail = (await response.aread())[:200].decode("utf-8", "replace")
            raise MediaUnavailable(
                f"{what} download {response.status_code}: {detail}", status=response.status_code
            )
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise MediaUnavailable(f"{what} over the {max_bytes} byte limit")
        return Downloaded(bytes(data), response.headers.get("content-type", ""))


def json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
