// The smallest HTTP shim that serves Ory Polis's directory sync (the npm package
// @boxyhq/saml-jackson, which Polis runs) the way Polis's own Next.js route does:
// /api/scim/v2.0/{directoryId}/{Users|Groups}[/{id}], bearer token = the directory's
// SCIM secret. Used by `bench scim --target` as a peer; see docs/benchmarks.md.
//
//   npm install @boxyhq/saml-jackson@26.2.0   (in a folder of its own)
//   node polis.js [port] [mem|postgres://...] [webhook]   (run from that folder)
//
// webhook: none (the default: no webhook, Polis skips its events), `sync` (a signed
// webhook to a local receiver that answers 200, sent inside each request: Polis's
// default), or `batch` (each event stored in Polis's database and sent later in batches
// by its cron: the mode where an event outlives a failed send).
//
// Prints one line: `target=<base url> token=<secret> pid=<pid>`.
'use strict';
const http = require('http');
const jackson = require('@boxyhq/saml-jackson');

const port = Number(process.argv[2] || 8091);
const dbArg = process.argv[3] || 'mem';
const mode = process.argv[4] || 'none';
const receiverPort = port + 1000;
const webhook = mode === 'none' ? '' : `http://127.0.0.1:${receiverPort}/webhook`;

async function main() {
  const db = dbArg === 'mem' ? { engine: 'mem' } : { engine: 'sql', type: 'postgres', url: dbArg };
  const quiet = { info() {}, warn() {}, error() {} };
  const { directorySyncController: dsync } = await jackson.controllers({
    externalUrl: `http://127.0.0.1:${port}`,
    samlPath: '/api/oauth/saml',
    samlAudience: 'https://saml.boxyhq.com',
    db,
    noAnalytics: true,
    logger: quiet,
    dsync: mode === 'batch' ? { webhookBatchSize: 50, webhookBatchCronInterval: 1 } : {},
  });
  if (webhook) {
    let received = 0;
    http
      .createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          received++;
          res.writeHead(200).end();
        });
      })
      .listen(receiverPort, '127.0.0.1');
    process.on('SIGTERM', () => {
      console.error(`receiver: ${received} webhook requests`);
      process.exit(0);
    });
  }
  const { data: dir, error } = await dsync.directories.create({
    tenant: 'bench.example',
    product: 'bench',
    name: 'bench',
    type: 'azure-scim-v2',
    webhook_url: webhook,
    webhook_secret: webhook ? 'bench-webhook-secret' : '',
  });
  if (error) throw new Error(error.message);

  const prefix = `/api/scim/v2.0/${dir.id}/`;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (!url.pathname.startsWith(prefix)) {
        res.writeHead(404).end();
        return;
      }
      const [resourceType, resourceId] = url.pathname.slice(prefix.length).split('/');
      let body;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const q = url.searchParams;
      const auth = req.headers.authorization || '';
      try {
        const { status, data } = await dsync.requests.handle({
          method: req.method,
          body,
          directoryId: dir.id,
          resourceType,
          resourceId,
          apiSecret: auth.startsWith('Bearer ') ? auth.slice(7) : null,
          query: {
            count: q.get('count') ? Number(q.get('count')) : undefined,
            startIndex: q.get('startIndex') ? Number(q.get('startIndex')) : undefined,
            filter: q.get('filter') || undefined,
          },
        });
        res.writeHead(status, { 'content-type': 'application/scim+json' });
        res.end(JSON.stringify(data));
      } catch (e) {
        res.writeHead(500).end(String(e && e.message));
      }
    });
  });
  server.listen(port, '127.0.0.1', () => {
    console.log(`target=http://127.0.0.1:${port}${prefix.slice(0, -1)} token=${dir.scim.secret} pid=${process.pid}`);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
