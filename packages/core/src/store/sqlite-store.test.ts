import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeConformance } from '../testing/store-conformance.ts';
import { createSqliteStore } from './sqlite-store.ts';

storeConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  const path = join(dir, 'tessera.db');
  return {
    store: createSqliteStore({ path }),
    reopen: async () => createSqliteStore({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { makeSession, makeUser } from '../testing/store-conformance.ts';

const run = promisify(execFile);

it('sqlite: rotation stays atomic across processes sharing one file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-mp-'));
  const path = join(dir, 'tessera.db');
  try {
    const store = createSqliteStore({ path });
    const user = makeUser();
    await store.createUser(user);
    const session = makeSession(user.id);
    await store.createSession(session);
    await store.close();
    const module = new URL('./sqlite-store.ts', import.meta.url).href;
    // Four processes each try the same compare-and-set 25 times in a burst.
    const script = `
      const { createSqliteStore } = await import(${JSON.stringify(module)});
      const store = createSqliteStore({ path: ${JSON.stringify(path)} });
      let wins = 0;
      for (let i = 0; i < 25; i += 1) {
        const row = await store.rotateSession(${JSON.stringify(session.id)}, 1, { nowMs: 1, idleExpiresAtMs: 2, ip: null, userAgent: null });
        if (row) wins += 1;
      }
      await store.close();
      process.stdout.write(String(wins));`;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', script])),
    );
    const wins = results.reduce((sum, r) => sum + Number(r.stdout), 0);
    assert.equal(wins, 1);
    const again = createSqliteStore({ path });
    assert.equal((await again.findSession(session.id))?.generation, 2);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
