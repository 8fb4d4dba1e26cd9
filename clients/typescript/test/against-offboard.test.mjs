// The package against a real `offboard serve` (SQLite in a temporary folder), driven by the
// IdP's literal calls from scim-fixtures/: users created, one deactivated, one deleted; the
// application's store ends right; a replayed webhook is applied once and a forged one
// refused; a gap while the receiver is down is filled from the feed in order; the
// endpoint's secret is rotated mid-stream and nothing is refused.
//
// Run: OFFBOARD_BIN=target/release/offboard npm test (in clients/typescript)
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client, Consumer, ForgedWebhook, OffboardError, SqliteStore, endsAccess } from "offboard-client";

// The repository, for its fixtures (OFFBOARD_ROOT when the tests run from another folder).
const root = process.env.OFFBOARD_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const binary = process.env.OFFBOARD_BIN ?? path.join(root, "target/release/offboard");
const fixture = (name) => JSON.parse(readFileSync(path.join(root, "scim-fixtures", name), "utf8"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = netServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The application: what it knows of each person, from the events it applied. */
class Application {
  applied = [];
  access = new Map();
  deleted = new Set();
  apply = (event) => {
    this.applied.push(event);
    const user = event.data.user;
    const id = typeof user === "object" && user ? user.id : undefined;
    if (!id) return;
    if (event.type === "membership.created" || event.type === "membership.reactivated") this.access.set(id, true);
    else if (endsAccess(event)) this.access.set(id, false);
    if (event.type === "user.deleted") this.deleted.add(id);
  };
  sequences(org) {
    return this.applied.filter((e) => e.organization_id === org).map((e) => e.sequence);
  }
  count(id) {
    return this.applied.filter((e) => e.id === id).length;
  }
}

/** The application's webhook endpoint, on a fixed port so it can stop and start. */
class Receiver {
  refused = 0;
  deliveries = [];
  server = null;
  constructor(consumer, port) {
    this.consumer = consumer;
    this.port = port;
  }
  start() {
    this.server = createServer(async (req, res) => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const body = Buffer.concat(chunks);
      try {
        await this.consumer.handle(body, req.headers);
        this.deliveries.push([body, req.headers]);
        res.writeHead(204).end();
      } catch (e) {
        if (!(e instanceof ForgedWebhook)) throw e;
        this.refused += 1;
        res.writeHead(400).end();
      }
    });
    return new Promise((r) => this.server.listen(this.port, "127.0.0.1", r));
  }
  stop() {
    if (!this.server) return Promise.resolve();
    const s = this.server;
    this.server = null;
    s.closeAllConnections();
    return new Promise((r) => s.close(r));
  }
  async post(body, headers) {
    const plain = {};
    for (const [k, v] of Object.entries(headers)) if (k.startsWith("webhook-")) plain[k] = v;
    const res = await fetch(`http://127.0.0.1:${this.port}/webhook`, { method: "POST", body, headers: plain });
    return res.status;
  }
}

const dir = mkdtempSync(path.join(tmpdir(), "offboard-ts-e2e-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  OFFBOARD_DATABASE_URL: `sqlite://${dir}/offboard.db?mode=rwc`,
  OFFBOARD_LISTEN: `127.0.0.1:${port}`,
  OFFBOARD_METRICS_LISTEN: "off",
  OFFBOARD_ADMIN_JWT_SECRET: "typescript-client-test-secret-of-32-bytes",
  OFFBOARD_WEBHOOK_ALLOW_PRIVATE: "true",
  OFFBOARD_WEBHOOK_POLL_INTERVAL: "50ms",
  RUST_LOG: "warn",
};
const serve = spawn(binary, ["serve"], { env, stdio: "ignore" });
after(() => serve.kill());
const cli = (...args) => execFileSync(binary, args, { env, encoding: "utf8" }).trim();

async function ready() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error("offboard serve never became ready");
    await sleep(100);
  }
}

test("the application ends in the state the IdP meant", async () => {
  await ready();
  const org = cli("org", "create", "Acme");
  const token = cli("token", "create", org);
  const key = cli("api-key", "create", "--name", "typescript", "--org", org,
    "--scope", "events:read", "--scope", "sessions:write", "--scope", "sessions:read", "--scope", "users:read");
  const client = new Client(base, key);
  const app = new Application();
  const receiverPort = await freePort();
  const [endpoint, secret] = cli("webhook", "add", `http://127.0.0.1:${receiverPort}/webhook`, "--org", org).split(/\s+/);
  const store = await SqliteStore.open(path.join(dir, "app.db"));
  const consumer = new Consumer(store, app.apply, [secret], client);
  const receiver = new Receiver(consumer, receiverPort);
  await receiver.start();
  after(() => receiver.stop());

  const scim = async (method, p, body) => {
    const res = await fetch(`${base}/scim/v2${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.ok, `${method} ${p}: ${res.status}`);
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  };
  const admin = async (method, p) => {
    const res = await fetch(`${base}/admin/v1${p}`, { method, headers: { authorization: `Bearer ${cli("admin-token")}` } });
    assert.ok(res.ok, `${method} ${p}: ${res.status}`);
    return res.json();
  };
  const oktaUser = (n) => {
    const body = fixture("okta/create_user.json");
    const name = `user${n}@okta.local`;
    body.userName = name;
    body.emails[0].value = name;
    body.externalId = `00u${String(n).padStart(17, "0")}`;
    return scim("POST", "/Users", body);
  };
  const waitApplied = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const page = await client.events(org, { limit: 1000 });
      const last = page.data.length ? page.data[page.data.length - 1].sequence : 0;
      const seqs = app.sequences(org);
      if (seqs.length && seqs[seqs.length - 1] === last) return;
      if (Date.now() > deadline) assert.fail(`applied ${seqs.slice(-5)}, the feed is at ${last}`);
      await sleep(100);
    }
  };
  const assertInOrder = () => {
    const seqs = app.sequences(org);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), "in order, once each");
  };

  // 1-3. Users from Okta's literal calls; one deactivated, one deleted.
  const kept = await oktaUser(1);
  const leaver = await oktaUser(2);
  const deactivated = await oktaUser(3);
  await waitApplied();
  const account = (u) =>
    app.applied.find((e) => e.type === "membership.created" && e.data.membership.scim_id === u.id).data.user.id;
  const session = await client.registerSession(account(deactivated), org, "2999-01-01T00:00:00Z");
  assert.equal((await client.session(session.id)).active, true);
  await scim("PATCH", `/Users/${deactivated.id}`, fixture("okta/deactivate_user.json"));
  await scim("DELETE", `/Users/${leaver.id}`);
  await waitApplied();
  assert.equal(app.access.get(account(kept)), true);
  assert.equal(app.access.get(account(deactivated)), false);
  assert.equal(app.access.get(account(leaver)), false);
  assert.ok(app.deleted.has(account(leaver)));
  assert.equal((await client.session(session.id)).active, false);
  await assert.rejects(client.registerSession(account(deactivated), org, "2999-01-01T00:00:00Z"), (e) => e instanceof OffboardError && e.status === 422);
  const user = await client.user(account(kept));
  assert.deepEqual(user.memberships.map((m) => m.organization_id), [org]);
  assertInOrder();

  // 4. A replayed webhook is applied once; a forged one is refused.
  const [body, headers] = receiver.deliveries[receiver.deliveries.length - 1];
  const eventId = JSON.parse(body).id;
  assert.equal(await receiver.post(body, headers), 204);
  await admin("POST", `/events/${eventId}/replay`);
  const deadline = Date.now() + 10_000;
  while (receiver.deliveries.filter(([b]) => JSON.parse(b).id === eventId).length < 3) {
    assert.ok(Date.now() < deadline, "the replay never arrived");
    await sleep(50);
  }
  assert.equal(app.count(eventId), 1);
  assert.equal(await receiver.post(body, { ...headers, "webhook-signature": "v1,bm90IG9mZmJvYXJkJ3Mgc2lnbmF0dXJl" }), 400);
  assert.equal(await receiver.post(Buffer.from(body.toString().replace('"sequence"', '"sequence" ')), headers), 400);
  assert.equal(receiver.refused, 2);
  assert.equal(app.count(eventId), 1);

  // 5. The receiver is down while the IdP goes on; the feed fills the gap, in order.
  await receiver.stop();
  const missed = await oktaUser(4);
  await scim("PATCH", `/Users/${missed.id}`, fixture("okta/deactivate_user.json"));
  await scim("PATCH", `/Users/${missed.id}`, fixture("okta/reactivate_user.json"));
  const before = app.sequences(org).length;
  assert.ok((await consumer.catchUp(org)) >= 3);
  assert.ok(app.sequences(org).length > before);
  assertInOrder();
  await receiver.start();

  // 6. The endpoint's secret is rotated mid-stream: the application switches to the new one
  // at once (offboard signs with both for a day), and nothing is refused.
  const rotated = await admin("POST", `/webhook-endpoints/${endpoint}/rotate-secret`);
  consumer.secrets = [rotated.secret];
  for (const n of [5, 6, 7]) await oktaUser(n);
  await waitApplied();
  assert.equal(receiver.refused, 2, "only the forged deliveries were refused");
  assertInOrder();
  const seqs = app.sequences(org);
  const until = Date.now() + 10_000;
  while ((await store.lastApplied(org)).sequence !== seqs[seqs.length - 1] && Date.now() < until) await sleep(50);
  assert.equal((await store.lastApplied(org)).sequence, seqs[seqs.length - 1]);
  assert.ok(await store.seen(eventId));
});
