"""The consumer alone, with deliveries signed here by the Standard Webhooks library:
out-of-order deliveries are held and applied in order, duplicates once, and several
secrets verify during a rotation."""

from __future__ import annotations

import json
import tempfile
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any

from standardwebhooks.webhooks import Webhook

from offboard_client import Consumer, ForgedWebhook, MemoryStore, SqliteStore, ends_access

OLD = "whsec_" + "b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZA=="
NEW = "whsec_" + "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldw=="


def event(sequence: int, kind: str = "membership.updated") -> dict[str, Any]:
    return {
        "id": f"evt_{sequence:026d}",
        "type": kind,
        "timestamp": "2026-12-07T09:00:00Z",
        "organization_id": "org_1",
        "sequence": sequence,
        "data": {"organization": {"id": "org_1"}, "user": {"id": "usr_1"}},
    }


def delivery(e: dict[str, Any], *secrets: str, at: datetime | None = None):
    body = json.dumps(e).encode()
    when = at or datetime.now(timezone.utc)
    sigs = " ".join(Webhook(s).sign(e["id"], when, body) for s in secrets)
    headers = {
        "webhook-id": e["id"],
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": sigs,
    }
    return body, headers


class ConsumerAlone(unittest.TestCase):
    def check_store(self, store: Any) -> None:
        applied: list[int] = []
        consumer = Consumer(store, lambda e: applied.append(e["sequence"]), [NEW])
        consumer.handle(*delivery(event(1), NEW))
        # 3 and 4 arrive before 2: held until 2 comes.
        consumer.handle(*delivery(event(3), NEW))
        consumer.handle(*delivery(event(4), NEW))
        self.assertEqual(applied, [1])
        consumer.handle(*delivery(event(2), NEW))
        self.assertEqual(applied, [1, 2, 3, 4])
        # Delivered again: applied once.
        consumer.handle(*delivery(event(3), NEW))
        self.assertEqual(applied, [1, 2, 3, 4])
        self.assertEqual(store.held("org_1"), [])
        self.assertEqual(store.last_applied("org_1"), (4, "evt_" + "4".zfill(26)))

    def test_deliveries_are_applied_once_and_in_order(self) -> None:
        self.check_store(MemoryStore())
        with tempfile.TemporaryDirectory() as d:
            self.check_store(SqliteStore(f"{d}/app.db"))

    def test_rotation_forgery_and_staleness(self) -> None:
        applied: list[int] = []
        consumer = Consumer(MemoryStore(), lambda e: applied.append(e["sequence"]), [NEW])
        # During a rotation offboard signs with both secrets; either verifies.
        consumer.handle(*delivery(event(1), OLD, NEW))
        consumer.secrets = [OLD]
        consumer.handle(*delivery(event(2), OLD, NEW))
        self.assertEqual(applied, [1, 2])
        with self.assertRaises(ForgedWebhook):
            consumer.handle(*delivery(event(3), NEW))
        # Older than the five-minute tolerance: refused.
        stale = datetime.now(timezone.utc) - timedelta(minutes=6)
        with self.assertRaises(ForgedWebhook):
            consumer.handle(*delivery(event(3), OLD, at=stale))
        body, headers = delivery(event(3), OLD)
        with self.assertRaises(ForgedWebhook):
            consumer.handle(body.replace(b"usr_1", b"usr_2"), headers)
        self.assertEqual(applied, [1, 2])

    def test_which_events_end_access(self) -> None:
        for kind in ["membership.deactivated", "membership.deleted", "user.deleted",
                     "sessions.revoked", "user.suspended", "organization.deleted"]:
            self.assertTrue(ends_access(event(1, kind)), kind)
        for kind in ["membership.created", "membership.reactivated", "membership.updated",
                     "membership.roles_changed", "user.created", "group.member_removed"]:
            self.assertFalse(ends_access(event(1, kind)), kind)


if __name__ == "__main__":
    unittest.main()
