// One real flow on the installed tarballs, under plain Node (no custom conditions): an Express app
// mounting @tessera/server/express over SQLite, a resource route behind @tessera/verify/express, and
// the Node client (@tessera/client) renewing its 1-second access token while it calls that route for
// about 3.5 seconds. Prints one JSON line with what it saw; exits non-zero on any failure.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTesseraClient } from '@tessera/client';
import { createEngine, createSqliteStore } from '@tessera/core';
import { tesseraRoutes } from '@tessera/server/express';
import { createVerifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/express';
import express from 'express';

const ACCESS_TTL_SECONDS = 1;
const RUN_MS = 3500;

const dir = mkdtempSync(join(tmpdir(), 'tessera-flow-'));
// The issuer must be the app's own URL, known once it listens.
const http = createServer();
http.listen(0, '127.0.0.1');
await once(http, 'listening');
const url = `http://127.0.0.1:${http.address().port}`;

const store = createSqliteStore({ path: join(dir, 'app.db') });
const engine = await createEngine({
  store,
  secret: new Uint8Array(32).fill(7),
  issuer: url,
  accessTtlSeconds: ACCESS_TTL_SECONDS,
  clockLeewaySeconds: 0,
  rateLimits: false,
});
const verifier = createVerifier({ issuer: url, audience: url });
const app = express();
const routes = tesseraRoutes({ engine });
app.use(routes);
app.get('/orders', requireAuth(verifier), (req, res) => {
  res.json({ orders: [{ id: 1 }], for: req.auth.sub });
});
http.on('request', app);

const client = createTesseraClient({ baseUrl: url, transport: 'body' });
let renewals = 0;
client.on('tokenRenewed', () => {
  renewals += 1;
});
const result = { node: process.version, statuses: [], tokens: 0, renewals: 0, anonymous: 0, afterLogout: 0 };
try {
  await client.register('ada@example.com', 'correct horse battery staple');
  await verifier.ready();
  const tokens = new Set();
  const until = Date.now() + RUN_MS;
  while (Date.now() < until) {
    const response = await client.fetch(`${url}/orders`);
    result.statuses.push(response.status);
    const body = await response.json();
    if (response.status !== 200 || typeof body.for !== 'string')
      throw new Error(`GET /orders: ${response.status}`);
    tokens.add(await client.getAccessToken());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  result.tokens = tokens.size;
  result.renewals = renewals;
  result.anonymous = (await fetch(`${url}/orders`)).status;
  await client.logout();
  result.afterLogout = (await client.fetch(`${url}/orders`)).status;
} finally {
  client.close();
  verifier.close();
  routes.close();
  http.closeAllConnections();
  http.close();
  await engine.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
