"""A thin client for what an application calls with its API key (`/v1`): register,
introspect and revoke a session, read a user, read the feed. Standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, cast

from .api import FeedPage, Session, User

__all__ = ["Client", "OffboardError"]


class OffboardError(Exception):
    """offboard answered with an error: `status`, and the error's `code` and `message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Client:
    """`Client("http://127.0.0.1:8080", "obk_…")`: each call needs its scope on the key
    (`sessions:write`, `sessions:read`, `users:read`, `events:read`)."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 70.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}/v1{path}",
            data=data,
            method=method,
            headers={"authorization": f"Bearer {self._key}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as res:
                return json.loads(res.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())["error"]
                code, message = str(err.get("code", "")), str(err.get("message", ""))
            except (ValueError, KeyError, TypeError):
                code, message = "", e.reason
            raise OffboardError(e.code, code, message) from None

    def register_session(self, user_id: str, organization_id: str, expires_at: str) -> Session:
        """A session of an ACTIVE member (`expires_at`: RFC 3339)."""
        body = {"user_id": user_id, "organization_id": organization_id, "expires_at": expires_at}
        return cast(Session, self._call("POST", "/sessions", body))

    def session(self, session_id: str) -> Session:
        """Introspection: `active`, and the member's `roles` now."""
        return cast(Session, self._call("GET", f"/sessions/{_seg(session_id)}"))

    def revoke_session(self, session_id: str) -> Session:
        return cast(Session, self._call("DELETE", f"/sessions/{_seg(session_id)}"))

    def user(self, user_id: str) -> User:
        return cast(User, self._call("GET", f"/users/{_seg(user_id)}"))

    def events(
        self,
        organization_id: str,
        after: str | None = None,
        limit: int = 100,
        wait: str | None = None,
    ) -> FeedPage:
        """The organization's events after the event `after`, in commit order."""
        query: dict[str, Any] = {"organization_id": organization_id, "limit": limit}
        if after:
            query["after"] = after
        if wait:
            query["wait"] = wait
        return cast(FeedPage, self._call("GET", "/events?" + urllib.parse.urlencode(query)))


def _seg(raw: str) -> str:
    return urllib.parse.quote(raw, safe="")
