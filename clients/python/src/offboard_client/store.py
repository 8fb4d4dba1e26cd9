"""Where a consumer keeps what it has applied: per organization, the last event applied
(its `sequence` and id, the feed's cursor), the deliveries seen (`webhook-id`), and the
events that arrived ahead of a gap. The application may supply its own (`Store`); an
in-memory store and a SQLite store ship here."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any, Protocol

__all__ = ["MemoryStore", "SqliteStore", "Store"]


class Store(Protocol):
    def last_applied(self, organization_id: str) -> tuple[int, str | None]:
        """The last applied event's `sequence` (0 when none) and id."""
        ...

    def seen(self, webhook_id: str) -> bool: ...

    def record(self, organization_id: str, sequence: int, event_id: str) -> None:
        """The event was applied: it is the organization's last, and its id is seen."""
        ...

    def hold(self, event: dict[str, Any]) -> None:
        """Keep an event that arrived ahead of a gap."""
        ...

    def held(self, organization_id: str) -> list[dict[str, Any]]:
        """The organization's held events, in `sequence` order."""
        ...

    def drop_held(self, organization_id: str, up_to: int) -> None:
        """Forget the held events up to this sequence (applied or already past)."""
        ...


class MemoryStore:
    """Everything in this process's memory (tests, or an application that catches up
    from the feed's start at each start)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[int, str | None]] = {}
        self._seen: set[str] = set()
        self._held: dict[str, dict[int, dict[str, Any]]] = {}

    def last_applied(self, organization_id: str) -> tuple[int, str | None]:
        with self._lock:
            return self._last.get(organization_id, (0, None))

    def seen(self, webhook_id: str) -> bool:
        with self._lock:
            return webhook_id in self._seen

    def record(self, organization_id: str, sequence: int, event_id: str) -> None:
        with self._lock:
            self._last[organization_id] = (sequence, event_id)
            self._seen.add(event_id)

    def hold(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._held.setdefault(event["organization_id"], {})[int(event["sequence"])] = event

    def held(self, organization_id: str) -> list[dict[str, Any]]:
        with self._lock:
            held = self._held.get(organization_id, {})
            return [held[s] for s in sorted(held)]

    def drop_held(self, organization_id: str, up_to: int) -> None:
        with self._lock:
            held = self._held.get(organization_id, {})
            for s in [s for s in held if s <= up_to]:
                del held[s]


class SqliteStore:
    """A SQLite file (standard library `sqlite3`): survives restarts; each record is one
    transaction, so an event is never recorded applied without its id seen."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS offboard_applied (
                organization_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, event_id TEXT);
            CREATE TABLE IF NOT EXISTS offboard_seen (webhook_id TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS offboard_held (
                organization_id TEXT NOT NULL, sequence INTEGER NOT NULL, event TEXT NOT NULL,
                PRIMARY KEY (organization_id, sequence));
            """
        )

    def last_applied(self, organization_id: str) -> tuple[int, str | None]:
        with self._lock:
            row = self._db.execute(
                "SELECT sequence, event_id FROM offboard_applied WHERE organization_id = ?",
                (organization_id,),
            ).fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    def seen(self, webhook_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM offboard_seen WHERE webhook_id = ?", (webhook_id,)
            ).fetchone()
        return row is not None

    def record(self, organization_id: str, sequence: int, event_id: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO offboard_applied (organization_id, sequence, event_id) "
                    "VALUES (?, ?, ?) ON CONFLICT (organization_id) DO UPDATE SET "
                    "sequence = excluded.sequence, event_id = excluded.event_id",
                    (organization_id, sequence, event_id),
                )
                self._db.execute(
                    "INSERT OR IGNORE INTO offboard_seen (webhook_id) VALUES (?)", (event_id,)
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def hold(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO offboard_held (organization_id, sequence, event) "
                "VALUES (?, ?, ?)",
                (event["organization_id"], int(event["sequence"]), json.dumps(event)),
            )

    def held(self, organization_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM offboard_held WHERE organization_id = ? ORDER BY sequence",
                (organization_id,),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def drop_held(self, organization_id: str, up_to: int) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM offboard_held WHERE organization_id = ? AND sequence <= ?",
                (organization_id, up_to),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
