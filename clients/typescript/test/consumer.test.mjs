// The consumer alone, with deliveries signed here by the Standard Webhooks library:
// out-of-order deliveries are held and applied in order, duplicates once, and several
// secrets verify during a rotation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { Consumer, ForgedWebhook, MemoryStore, SqliteStore, endsAccess } from "offboard-client";

const OLD = "whsec_" + Buffer.from("old-secret-old-secret-old").toString("base64");
const NEW = "whsec_" + Buffer.from("new-secret-new-secret-new").toString("base64");

const event = (sequence, type = "membership.updated") => ({
  id: `evt_${String(sequence).padStart(26, "0")}`,
  type,
  timestamp: "2026-12-07T09:00:00Z",
  organization_id: "org_1",
  sequence,
  data: { organization: { id: "org_1" }, user: { id: "usr_1" } },
});

function delivery(e, secrets, at = new Date()) {
  const body = JSON.stringify(e);
  const signature = secrets.map((s) => new Webhook(s).sign(e.id, at, body)).join(" ");
  return [
    body,
    {
      "webhook-id": e.id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signature,
    },
  ];
}

async function inOrder(store) {
  const applied = [];
  const consumer = new Consumer(store, (e) => applied.push(e.sequence), [NEW]);
  await consumer.handle(...delivery(event(1), [NEW]));
  // 3 and 4 arrive before 2: held until 2 comes.
  await consumer.handle(...delivery(event(3), [NEW]));
  await consumer.handle(...delivery(event(4), [NEW]));
  assert.deepEqual(applied, [1]);
  await consumer.handle(...delivery(event(2), [NEW]));
  assert.deepEqual(applied, [1, 2, 3, 4]);
  // Delivered again: applied once.
  await consumer.handle(...delivery(event(3), [NEW]));
  assert.deepEqual(applied, [1, 2, 3, 4]);
  assert.deepEqual(await store.held("org_1"), []);
  assert.deepEqual(await store.lastApplied("org_1"), { sequence: 4, eventId: event(4).id });
}

test("deliveries are applied once and in order", async () => {
  await inOrder(new MemoryStore());
  const dir = mkdtempSync(path.join(tmpdir(), "offboard-ts-"));
  await inOrder(await SqliteStore.open(path.join(dir, "app.db")));
});

test("rotation, forgery and staleness", async () => {
  const applied = [];
  const consumer = new Consumer(new MemoryStore(), (e) => applied.push(e.sequence), [NEW]);
  // During a rotation offboard signs with both secrets; either verifies.
  await consumer.handle(...delivery(event(1), [OLD, NEW]));
  consumer.secrets = [OLD];
  await consumer.handle(...delivery(event(2), [OLD, NEW]));
  assert.deepEqual(applied, [1, 2]);
  await assert.rejects(consumer.handle(...delivery(event(3), [NEW])), ForgedWebhook);
  // Older than the five-minute tolerance: refused.
  const stale = new Date(Date.now() - 6 * 60 * 1000);
  await assert.rejects(consumer.handle(...delivery(event(3), [OLD], stale)), ForgedWebhook);
  const [body, headers] = delivery(event(3), [OLD]);
  await assert.rejects(consumer.handle(body.replace("usr_1", "usr_2"), headers), ForgedWebhook);
  assert.deepEqual(applied, [1, 2]);
});

test("which events end access", () => {
  for (const t of ["membership.deactivated", "membership.deleted", "user.deleted", "sessions.revoked", "user.suspended", "organization.deleted"]) {
    assert.equal(endsAccess(event(1, t)), true, t);
  }
  for (const t of ["membership.created", "membership.reactivated", "membership.updated", "membership.roles_changed", "user.created", "group.member_removed"]) {
    assert.equal(endsAccess(event(1, t)), false, t);
  }
});
