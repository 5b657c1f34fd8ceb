import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createHandler } from '@tessera/server';
import { toNodeListener } from '@tessera/server/node';
import { start } from '../examples/node-app/server.ts';
import { createTestEngine, mountContract, ORIGIN } from './helpers/mount-contract.ts';
import { call, PASSWORD } from './helpers/server.ts';

// The example serves its own routes as the fallback of toNodeListener.
mountContract('node', start);

describe('library mode: node:http without a fallback', () => {
  it('answers every path itself: Tessera’s 404 with the security headers, and 503 once closed', async () => {
    const engine = await createTestEngine();
    const handler = createHandler({ engine });
    const server = createServer(toNodeListener(handler));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const missing = await call(url, 'GET', '/nothing-here');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, 'not_found');
      assert.equal(
        missing.headers.get('content-security-policy'),
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
      );
      const reg = await call(url, 'POST', '/auth/register', {
        json: { email: 'node@example.com', password: PASSWORD },
        headers: { origin: ORIGIN },
      });
      assert.equal(reg.status, 201, reg.text);
      handler.close();
      const closing = await call(url, 'POST', '/auth/login', {
        json: { email: 'node@example.com', password: PASSWORD },
      });
      assert.equal(closing.status, 503);
      assert.equal(closing.body.error, 'service_unavailable');
      assert.equal(closing.headers.get('retry-after'), '1');
      assert.equal(closing.headers.get('connection'), 'close');
      assert.equal(closing.headers.get('x-frame-options'), 'DENY');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
