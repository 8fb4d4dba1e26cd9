"""A consumer of offboard's events: verified, applied once, and applied in each
organization's `sequence` order, whatever order the webhooks arrive in.

`handle(body, headers)` verifies a delivery, skips a `webhook-id` it has seen, applies the
event when it is the organization's next, and holds it when it is ahead of a gap, which it
then fills from the feed (`catch_up`) with the API key. `catch_up(organization_id)` also
brings an application back after downtime: it reads `/v1/events` from the last applied
event. `apply` is the application's own function; it is called once per event, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .client import Client
from .store import Store
from .webhook import verify

__all__ = ["Consumer"]

Event = dict[str, Any]


class Consumer:
    def __init__(
        self,
        store: Store,
        apply: Callable[[Event], None],
        secrets: Sequence[str],
        client: Client | None = None,
    ) -> None:
        """`secrets`: the endpoint's signing secrets (two while rotating); `client`: an
        API key with `events:read`, to fill gaps and catch up (without one, an event ahead
        of a gap waits for the webhooks that fill it)."""
        self._store = store
        self._apply = apply
        self.secrets = list(secrets)
        self._client = client
        # One organization's events are applied one at a time.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, organization_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(organization_id, threading.Lock())

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Event:
        """Verifies and takes one delivery (raises `ForgedWebhook` for a forged or stale
        one: answer it 400); answer 2xx once it returns. Returns the event."""
        event = verify(body, headers, self.secrets)
        webhook_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        org = str(event["organization_id"])
        with self._lock(org):
            if self._store.seen(webhook_id):
                return event
            last, _ = self._store.last_applied(org)
            sequence = int(event["sequence"])
            if sequence <= last:
                return event
            if sequence == last + 1 or last == 0 and self._client is None:
                self._apply_one(event)
            else:
                self._store.hold(event)
            self._drain(org)
            if self._client is not None and self._store.held(org):
                self._catch_up_locked(org)
        return event

    def catch_up(self, organization_id: str) -> int:
        """Applies the organization's events after the last applied one from the feed, in
        order; returns how many it applied."""
        with self._lock(organization_id):
            return self._catch_up_locked(organization_id)

    def _catch_up_locked(self, org: str) -> int:
        if self._client is None:
            raise RuntimeError("catching up needs a Client with an events:read key")
        applied = 0
        while True:
            last, after = self._store.last_applied(org)
            page = self._client.events(org, after=after, limit=100)
            events = page.get("data") or []
            before = applied
            for event in events:
                sequence = int(event["sequence"])
                if sequence <= last:
                    continue
                # The feed has no gaps: from the start (nothing applied yet, or retention
                # removed what came before) its first event is the next.
                self._apply_one(event)
                last = sequence
                applied += 1
            self._drain(org)
            if not events or applied == before:
                return applied

    def _drain(self, org: str) -> None:
        """Applies held events that are now next."""
        for event in self._store.held(org):
            last, _ = self._store.last_applied(org)
            sequence = int(event["sequence"])
            if sequence <= last:
                continue
            if sequence != last + 1:
                break
            self._apply_one(event)
        last, _ = self._store.last_applied(org)
        self._store.drop_held(org, last)

    def _apply_one(self, event: Event) -> None:
        self._apply(event)
        self._store.record(str(event["organization_id"]), int(event["sequence"]), str(event["id"]))
