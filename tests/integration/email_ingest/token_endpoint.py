"""A strict OAuth2 token endpoint on loopback: the refresh-token grant only.

It plays Google's and Microsoft's token endpoints as RFC 6749 defines the
exchange, and refuses what they refuse:

- §3.2: POST only, to the endpoint path; §3.2 / §4.3.2 (Appendix B):
  ``application/x-www-form-urlencoded`` body; a parameter sent twice is
  ``invalid_request``.
- §6 (Refreshing an Access Token): ``grant_type=refresh_token`` (else
  ``unsupported_grant_type``), ``refresh_token`` REQUIRED, ``scope`` OPTIONAL
  (Microsoft's v2.0 endpoint sends it; checked when configured).
- §2.3.1 (Client Password): ``client_id`` + ``client_secret`` in the body
  (``client_secret_post``) or HTTP Basic; both at once is ``invalid_request``
  (§2.3: "MUST NOT use more than one authentication method"); a wrong or
  missing client is 401 ``invalid_client``.
- §5.2 (Error Response): 400 + JSON ``{"error": …, "error_description": …}``;
  a revoked/unknown refresh token is ``invalid_grant``.
- §5.1 (Successful Response): 200, ``application/json;charset=UTF-8``,
  ``Cache-Control: no-store`` and ``Pragma: no-cache``; ``access_token``,
  ``token_type: Bearer``, ``expires_in``; with ``rotate=True`` a new
  ``refresh_token`` each time (Microsoft rotates; the old one stays valid).

Every issued access token is handed to ``on_issue`` (the Dovecot helper's
introspection accepts it for its lifetime), so a login with it is a real one.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote


@dataclass
class TokenEndpoint:
    client_id: str
    client_secret: str
    #: Called with (user, access token, lifetime in seconds) for every token issued.
    on_issue: Callable[[str, str, int], None]
    lifetime_s: int = 3600
    path: str = "/token"
    required_scope: str | None = None
    rotate: bool = False
    host: str = "127.0.0.1"
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}{self.path}"

    def grant(self, user: str) -> str:
        """A refresh token for ``user`` (what the consent flow would have produced)."""
        token = f"1//rt-{secrets.token_urlsafe(16)}"
        self.refresh_tokens[token] = user
        return token

    def revoke(self, refresh_token: str) -> None:
        self.refresh_tokens.pop(refresh_token, None)

    def start(self) -> TokenEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = endpoint._token_request(self)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Pragma", "no-cache")
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="token"')
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self.send_response(405)
                self.send_header("Allow", "POST")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the exchange -----------------------------------------------------------

    def _token_request(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, object]]:
        if request.path != self.path:
            return 404, {"error": "not_found"}
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("ascii", "replace")
        if content_type != "application/x-www-form-urlencoded":
            return _error(400, "invalid_request", "body must be application/x-www-form-urlencoded")
        values = parse_qs(raw, keep_blank_values=True)
        if any(len(v) > 1 for v in values.values()):
            return _error(400, "invalid_request", "a parameter was sent more than once")
        form = {k: v[0] for k, v in values.items()}
        self.requests.append(form)
        basic = _basic_credentials(request.headers.get("Authorization"))
        if basic and "client_secret" in form:
            return _error(400, "invalid_request", "more than one client authentication method")
        client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
        if client_id != self.client_id or client_secret != self.client_secret:
            return _error(401, "invalid_client", "unknown client or wrong secret")
        if form.get("grant_type") != "refresh_token":
            return _error(400, "unsupported_grant_type", "only refresh_token is served here")
        if not form.get("refresh_token"):
            return _error(400, "invalid_request", "refresh_token is required")
        if self.required_scope is not None and form.get("scope") != self.required_scope:
            return _error(400, "invalid_scope", f"scope must be {self.required_scope!r}")
        user = self.refresh_tokens.get(form["refresh_token"])
        if user is None:
            return _error(400, "invalid_grant", "token has been expired or revoked")
        access = f"ya29.{secrets.token_urlsafe(24)}"
        self.issued.append(access)
        self.on_issue(user, access, self.lifetime_s)
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.lifetime_s,
            "scope": form.get("scope") or "https://mail.google.com/",
        }
        if self.rotate:
            body["refresh_token"] = self.grant(user)
        return 200, body


def _error(status: int, code: str, description: str) -> tuple[int, dict[str, object]]:
    return status, {"error": code, "error_description": description}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1]).decode()
    except ValueError:
        return None
    user, _, password = decoded.partition(":")
    return unquote(user), unquote(password)
