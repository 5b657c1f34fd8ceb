import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, startChildServer, stopChildServer } from './helpers/child-server.ts';
import { call, PASSWORD } from './helpers/server.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tessera-durability-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

describe('durability', () => {
  it('loses no session or acknowledged rotation when SIGKILLed during a stream of refreshes', async () => {
    const port = await freePort();
    const env = {
      TESSERA_PORT: String(port),
      TESSERA_DATA_DIR: dataDir,
      TESSERA_RATE_LIMIT: 'off',
      TESSERA_REUSE_GRACE: '30s',
    };
    let server = await startChildServer(env);
    const clients: Array<{ sessionId: string; acknowledged: string; refreshes: number }> = [];
    for (let i = 0; i < 6; i += 1) {
      const reg = await call(server.url, 'POST', '/auth/register', {
        json: { email: `d${i}@example.com`, password: PASSWORD },
      });
      assert.equal(reg.status, 201, reg.text);
      clients.push({ sessionId: reg.body.session_id, acknowledged: reg.body.refresh_token, refreshes: 0 });
    }

    // Each client refreshes in a loop, keeping the last token it got an answer for; the server is
    // killed once enough rotations were acknowledged, with requests in flight.
    let killed = false;
    const loops = clients.map(async (client) => {
      for (let n = 0; n < 500 && !killed; n += 1) {
        try {
          const response = await call(server.url, 'POST', '/auth/refresh', {
            json: { refresh_token: client.acknowledged },
          });
          if (response.status !== 200) throw new Error(`refresh failed before the kill: ${response.text}`);
          client.acknowledged = response.body.refresh_token;
          client.refreshes += 1;
        } catch (error) {
          if (killed) return;
          throw error;
        }
      }
    });
    while (clients.reduce((sum, c) => sum + c.refreshes, 0) < 150) await new Promise((r) => setImmediate(r));
    killed = true;
    await stopChildServer(server, 'SIGKILL');
    await Promise.all(loops);

    server = await startChildServer(env);
    try {
      for (const client of clients) {
        // The last acknowledged token is either still current, or the predecessor of a rotation that
        // committed without its answer arriving: within the grace window both work.
        const retry = await call(server.url, 'POST', '/auth/refresh', {
          json: { refresh_token: client.acknowledged },
        });
        assert.equal(retry.status, 200, `session ${client.sessionId}: ${retry.text}`);
        assert.equal(retry.body.session_id, client.sessionId);
        const next = await call(server.url, 'POST', '/auth/refresh', {
          json: { refresh_token: retry.body.refresh_token },
        });
        assert.equal(next.status, 200);
        const sessions = await call(server.url, 'GET', '/auth/sessions', { token: next.body.access_token });
        assert.equal(sessions.status, 200);
        assert.equal(sessions.body.sessions.length, 1);
      }
    } finally {
      await stopChildServer(server, 'SIGTERM');
    }
    assert.ok(!/reuse detected/.test(server.output()), 'no reuse alarm');
  });
});
