import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signIn, useApi } from '../examples/express-client/client.ts';
import { start } from '../examples/express-client/server.ts';
import { PASSWORD, TEST_ARGON2 } from './helpers/server.ts';

let app: Awaited<ReturnType<typeof start>>;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-express-client-'));
  // Two-second access tokens on the wall clock: the client's own timers renew them.
  app = await start(0, {
    dbPath: join(dir, 'app.db'),
    argon2: TEST_ARGON2,
    rateLimits: false,
    accessTtlSeconds: 2,
  });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('example: Express with rotating-refresh and @tessera/client', () => {
  it('keeps an active user signed in across several token lifetimes with no 401, then logs out', async () => {
    const client = await signIn(app.url, 'client@example.com', PASSWORD);
    let renewals = 0;
    let ended = '';
    client.on('tokenRenewed', () => {
      renewals += 1;
    });
    client.on('sessionEnded', ({ reason }) => {
      ended = reason;
    });
    const statuses = await useApi(client, app.url, 5000, 200);
    assert.ok(statuses.length > 10);
    assert.deepEqual([...new Set(statuses)], [200], 'no 401 reached the app');
    assert.ok(renewals >= 2, `renewed ${renewals} times`);
    await client.logout();
    assert.equal(ended, 'logout');
    assert.equal(client.state().signedIn, false);
    assert.equal((await client.fetch(`${app.url}/api/orders`)).status, 401);
    client.close();
  });

  it('tells the app when its session was revoked elsewhere', async () => {
    const client = await signIn(app.url, 'revoked@example.com', PASSWORD);
    let ended = '';
    client.on('sessionEnded', ({ reason }) => {
      ended = reason;
    });
    const other = await signIn(app.url, 'revoked@example.com', PASSWORD);
    const token = await other.getAccessToken();
    const sessions = (await (await other.fetch(`${app.url}/api/auth/sessions`)).json()) as {
      sessions: Array<{ id: string; current: boolean }>;
    };
    const first = sessions.sessions.find((s) => !s.current);
    assert.ok(token && first);
    assert.equal(
      (await other.fetch(`${app.url}/api/auth/sessions/${first.id}`, { method: 'DELETE' })).status,
      204,
    );
    // At its next renewal at the latest, the first client learns it is over.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    assert.equal(ended, 'revoked');
    client.close();
    other.close();
  });
});
