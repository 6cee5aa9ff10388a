"""Slack private files: ``files.info`` for the file's download URL, then that URL.

References: docs.slack.dev/reference/methods/files.info (``GET|POST
/api/files.info`` with ``file`` required, token as ``Authorization: Bearer``,
scope ``files:read``; answers ``{"ok": true, "file": {id, name, mimetype,
size, url_private, url_private_download, …}}``; errors are HTTP 200
``{"ok": false, "error"}``: ``file_not_found``, ``file_deleted``,
``not_authed``, ``invalid_auth``, ``missing_scope``) and
docs.slack.dev/messaging/working-with-files#authenticating ("Authenticating to
access files": ``url_private``/``url_private_download`` need the same bearer
token). A message event's ``files[]`` may carry only the id (``file_access:
"check_file_info"``), so the file id is the reference and ``files.info`` always
names the URL: the token is sent only to a URL Slack's own API gave.

Without a valid token Slack answers the download with its sign-in page (HTML,
not an error status): an HTML answer for a file that is not HTML is refused
here rather than stored as the customer's file.
"""

from __future__ import annotations

import httpx

from libs.providers.integrations import Integration
from libs.providers.media import MediaUnavailable, json_or_none, read_capped
from libs.providers.sending import as_dict, base_url, secret
from libs.providers.slack.outbound import API_BASE_URL

REFERENCE_PREFIX = "slack-file:"


async def download(
    client: httpx.AsyncClient, integration: Integration, file_id: str, *, max_bytes: int
) -> bytes:
    headers = {"Authorization": f"Bearer {secret(integration.outbound.token)}"}
    api = base_url(integration, API_BASE_URL)
    answer = await client.get(f"{api}/api/files.info", params={"file": file_id}, headers=headers)
    body = as_dict(json_or_none(answer))
    if answer.status_code != 200 or body.get("ok") is not True:
        error = body.get("error") or answer.text[:200]
        raise MediaUnavailable(f"slack files.info {answer.status_code}: {error}")
    file = as_dict(body.get("file"))
    url = file.get("url_private_download") or file.get("url_private")
    size, declared = file.get("size"), str(file.get("mimetype") or "")
    if not isinstance(url, str) or not url:
        raise MediaUnavailable("slack files.info answered no url_private_download")
    if isinstance(size, int) and size > max_bytes:
        raise MediaUnavailable(f"slack file of {size} bytes is over the {max_bytes} limit")
    downloaded = await read_capped(
        client, url, what="slack file", max_bytes=max_bytes, headers=headers
    )
    served = downloaded.content_type.split(";", 1)[0].strip().lower()
    if served == "text/html" and declared.lower() != "text/html":
        raise MediaUnavailable("slack answered its sign-in page: the token cannot read files")
    return downloaded.data
