"""The package against a real `offboard serve` (SQLite in a temporary folder), driven by
the IdP's literal calls from scim-fixtures/: users created, one deactivated, one deleted;
the application's store ends right; a replayed webhook is applied once and a forged one
refused; a gap while the receiver is down is filled from the feed in order; the endpoint's
secret is rotated mid-stream and nothing is refused.

Run: OFFBOARD_BIN=target/release/offboard python -m unittest discover clients/python/tests
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from offboard_client import (
    Client,
    Consumer,
    ForgedWebhook,
    OffboardError,
    SqliteStore,
    ends_access,
)

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "scim-fixtures"
SCIM = "application/scim+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


class Application:
    """The application: what it knows of each person, from the events it applied."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: list[dict[str, Any]] = []
        self.access: dict[str, bool] = {}
        self.deleted: set[str] = set()

    def apply(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.applied.append(event)
            user = event["data"].get("user")
            user_id = user.get("id") if isinstance(user, dict) else None
            if not user_id:
                return
            if event["type"] in ("membership.created", "membership.reactivated"):
                self.access[user_id] = True
            elif ends_access(event):
                self.access[user_id] = False
            if event["type"] == "user.deleted":
                self.deleted.add(user_id)

    def sequences(self, org: str) -> list[int]:
        with self.lock:
            return [int(e["sequence"]) for e in self.applied if e["organization_id"] == org]

    def count(self, event_id: str) -> int:
        with self.lock:
            return sum(1 for e in self.applied if e["id"] == event_id)


class Receiver:
    """The application's webhook endpoint, on a fixed port so it can stop and start."""

    def __init__(self, consumer: Consumer, port: int) -> None:
        self.consumer = consumer
        self.port = port
        self.refused = 0
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                try:
                    receiver.consumer.handle(body, headers)
                    receiver.deliveries.append((body, headers))
                    status = 204
                except ForgedWebhook:
                    receiver.refused += 1
                    status = 400
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/webhook", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status
        except urllib.error.HTTPError as e:
            return e.code


class AgainstOffboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        binary = os.environ.get("OFFBOARD_BIN", str(ROOT / "target/release/offboard"))
        cls.dir = tempfile.TemporaryDirectory()
        port = free_port()
        cls.base = f"http://127.0.0.1:{port}"
        cls.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "OFFBOARD_DATABASE_URL": f"sqlite://{cls.dir.name}/offboard.db?mode=rwc",
            "OFFBOARD_LISTEN": f"127.0.0.1:{port}",
            "OFFBOARD_METRICS_LISTEN": "off",
            "OFFBOARD_ADMIN_JWT_SECRET": "python-client-test-secret-of-32-bytes-at-least",
            "OFFBOARD_WEBHOOK_ALLOW_PRIVATE": "true",
            "OFFBOARD_WEBHOOK_POLL_INTERVAL": "50ms",
            "RUST_LOG": "warn",
        }
        cls.binary = binary
        cls.serve = subprocess.Popen(
            [binary, "serve"], env=cls.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{cls.base}/readyz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.serve.terminate()
        cls.serve.wait(timeout=30)
        cls.dir.cleanup()

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [self.binary, *args], env=self.env, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    def admin(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{self.base}/admin/v1{path}",
            method=method,
            headers={"authorization": f"Bearer {self.cli('admin-token')}"},
        )
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read() or b"null")

    def scim(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{self.base}/scim/v2{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"authorization": f"Bearer {self.token}", "content-type": SCIM},
        )
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read() or b"null")

    def okta_user(self, n: int) -> dict[str, Any]:
        body = fixture("okta/create_user.json")
        name = f"user{n}@okta.local"
        body["userName"] = name
        body["emails"][0]["value"] = name
        body["externalId"] = f"00u{n:017d}"
        return self.scim("POST", "/Users", body)

    def wait_applied(self, app: Application) -> None:
        """Until the application applied every event the feed has for the organization."""
        deadline = time.monotonic() + 30
        while True:
            page = self.client.events(self.org, limit=1000)
            last = page["data"][-1]["sequence"] if page["data"] else 0
            seqs = app.sequences(self.org)
            if seqs and seqs[-1] == last:
                return
            if time.monotonic() > deadline:
                self.fail(f"applied {seqs[-5:]}, the feed is at {last}")
            time.sleep(0.1)

    def test_the_application_ends_in_the_state_the_idp_meant(self) -> None:
        self.org = self.cli("org", "create", "Acme")
        self.token = self.cli("token", "create", self.org)
        key = self.cli(
            "api-key", "create", "--name", "python", "--org", self.org,
            "--scope", "events:read", "--scope", "sessions:write",
            "--scope", "sessions:read", "--scope", "users:read",
        )  # fmt: skip
        self.client = Client(self.base, key)
        app = Application()
        receiver_port = free_port()
        endpoint, secret = self.cli(
            "webhook", "add", f"http://127.0.0.1:{receiver_port}/webhook", "--org", self.org
        ).split()[:2]
        store = SqliteStore(os.path.join(self.dir.name, "app.db"))
        consumer = Consumer(store, app.apply, [secret], self.client)
        receiver = Receiver(consumer, receiver_port)
        receiver.start()
        self.addCleanup(receiver.stop)

        # 1-3. Users from Okta's literal calls; one deactivated, one deleted.
        kept, leaver, deactivated = self.okta_user(1), self.okta_user(2), self.okta_user(3)
        self.wait_applied(app)
        account = {
            u["id"]: next(
                e["data"]["user"]["id"]
                for e in app.applied
                if e["type"] == "membership.created"
                and e["data"]["membership"]["scim_id"] == u["id"]
            )
            for u in (kept, leaver, deactivated)
        }
        session = self.client.register_session(
            account[deactivated["id"]], self.org, "2999-01-01T00:00:00Z"
        )
        self.assertTrue(self.client.session(session["id"])["active"])
        self.scim("PATCH", f"/Users/{deactivated['id']}", fixture("okta/deactivate_user.json"))
        self.scim("DELETE", f"/Users/{leaver['id']}")
        self.wait_applied(app)
        self.assertTrue(app.access[account[kept["id"]]])
        self.assertFalse(app.access[account[deactivated["id"]]])
        self.assertFalse(app.access[account[leaver["id"]]])
        self.assertIn(account[leaver["id"]], app.deleted)
        self.assertFalse(self.client.session(session["id"])["active"])
        with self.assertRaises(OffboardError) as refused:
            self.client.register_session(
                account[deactivated["id"]], self.org, "2999-01-01T00:00:00Z"
            )
        self.assertEqual(refused.exception.status, 422)
        user = self.client.user(account[kept["id"]])
        self.assertEqual([m["organization_id"] for m in user["memberships"]], [self.org])
        seqs = app.sequences(self.org)
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "in order, once each")

        # 4. A replayed webhook is applied once; a forged one is refused.
        body, headers = receiver.deliveries[-1]
        event_id = json.loads(body)["id"]
        self.assertEqual(receiver.post(body, headers), 204)
        self.admin("POST", f"/events/{event_id}/replay")
        deadline = time.monotonic() + 10
        while sum(1 for b, _ in receiver.deliveries if json.loads(b)["id"] == event_id) < 3:
            self.assertLess(time.monotonic(), deadline, "the replay never arrived")
            time.sleep(0.05)
        self.assertEqual(app.count(event_id), 1)
        forged = dict(headers)
        forged["webhook-signature"] = "v1,bm90IG9mZmJvYXJkJ3Mgc2lnbmF0dXJlIGF0IGFsbA=="
        self.assertEqual(receiver.post(body, forged), 400)
        tampered = body.replace(b'"sequence"', b'"sequence" ')
        self.assertEqual(receiver.post(tampered, headers), 400)
        self.assertEqual(receiver.refused, 2)
        self.assertEqual(app.count(event_id), 1)

        # 5. The receiver is down while the IdP goes on; the feed fills the gap, in order.
        receiver.stop()
        missed = self.okta_user(4)
        self.scim("PATCH", f"/Users/{missed['id']}", fixture("okta/deactivate_user.json"))
        self.scim("PATCH", f"/Users/{missed['id']}", fixture("okta/reactivate_user.json"))
        before = len(app.sequences(self.org))
        self.assertGreaterEqual(consumer.catch_up(self.org), 3)
        seqs = app.sequences(self.org)
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertGreater(len(seqs), before)
        receiver.start()

        # 6. The endpoint's secret is rotated mid-stream: the application switches to the new
        # one at once (offboard signs with both for a day), and nothing is refused.
        rotated = self.admin("POST", f"/webhook-endpoints/{endpoint}/rotate-secret")
        consumer.secrets = [rotated["secret"]]
        for n in range(5, 8):
            self.okta_user(n)
        self.wait_applied(app)
        self.assertEqual(receiver.refused, 2, "only the forged deliveries were refused")
        seqs = app.sequences(self.org)
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        # A restart keeps its place: the SQLite store knows what was applied.
        again = SqliteStore(os.path.join(self.dir.name, "app.db"))
        deadline = time.monotonic() + 10
        # The store records an event just after the application applied it.
        while again.last_applied(self.org)[0] != seqs[-1] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(again.last_applied(self.org)[0], seqs[-1])
        self.assertTrue(again.seen(event_id))


if __name__ == "__main__":
    unittest.main()
