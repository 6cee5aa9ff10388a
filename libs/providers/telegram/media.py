"""Telegram Bot API file download: ``getFile`` then ``/file/bot<token>/<file_path>``.

Reference: core.telegram.org/bots/api#getfile (``file_id`` required; "bots can
download files of up to 20MB in size"; answers a File whose ``file_path`` is
then downloaded from ``https://api.telegram.org/file/bot<token>/<file_path>``,
valid for at least one hour), #file (``file_id``, ``file_unique_id``,
``file_size``, ``file_path`` optional) and #making-requests (``{"ok": false,
"error_code", "description"}`` on errors, e.g. 400 ``Bad Request: invalid
file_id``, 400 ``Bad Request: file is too big``).
"""

from __future__ import annotations

import httpx

from libs.providers.integrations import Integration
from libs.providers.media import MediaUnavailable, json_or_none, read_capped
from libs.providers.sending import as_dict, base_url, secret
from libs.providers.telegram.outbound import API_BASE_URL

#: Telegram's own limit for bot downloads.
TELEGRAM_MAX_BYTES = 20 * 1024 * 1024
REFERENCE_PREFIX = "telegram-file:"


async def download(
    client: httpx.AsyncClient, integration: Integration, file_id: str, *, max_bytes: int
) -> bytes:
    api = base_url(integration, API_BASE_URL)
    token = secret(integration.outbound.token)
    answer = await client.post(f"{api}/bot{token}/getFile", json={"file_id": file_id})
    body = as_dict(json_or_none(answer))
    if answer.status_code != 200 or body.get("ok") is not True:
        raise MediaUnavailable(
            f"telegram getFile {answer.status_code}: {body.get('description') or answer.text[:200]}"
        )
    file = as_dict(body.get("result"))
    path, size = file.get("file_path"), file.get("file_size")
    if not isinstance(path, str) or not path:
        raise MediaUnavailable("telegram getFile answered no file_path")
    if isinstance(size, int) and size > max_bytes:
        raise MediaUnavailable(f"telegram file of {size} bytes is over the {max_bytes} limit")
    url = f"{api}/file/bot{token}/{path}"
    return (await read_capped(client, url, what="telegram file", max_bytes=max_bytes)).data
