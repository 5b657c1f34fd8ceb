import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSqliteStore } from '../store/sqlite-store.ts';
import { createEngineFixture } from '../testing/engine-fixture.ts';

const PASSWORD = 'correct horse battery staple';

describe('engine.listUsers', () => {
  it('pages through every user in id order, public shapes only, with a cursor that ends', async () => {
    const { engine } = await createEngineFixture({ store: createSqliteStore({ path: ':memory:' }) });
    const emails = Array.from({ length: 7 }, (_, i) => `user${i}@example.com`);
    for (const email of emails) await engine.register({ email, password: PASSWORD });
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof engine.listUsers>> = await engine.listUsers({ after, limit: 3 });
      pages += 1;
      assert.ok(page.users.length <= 3);
      for (const user of page.users) {
        assert.equal('passwordHash' in user, false);
        seen.push(user.id);
      }
      after = page.next;
    } while (after !== null);
    assert.equal(pages, 3);
    assert.equal(seen.length, 7);
    assert.deepEqual(seen, [...seen].sort());
    const all = await engine.listUsers();
    assert.deepEqual(all.users.map((u) => u.email).sort(), [...emails].sort());
    assert.equal(all.next, null);
    // A full last page says there is no next one only when nothing follows.
    const exact = await engine.listUsers({ limit: 7 });
    assert.equal(exact.next, null);
    assert.equal((await engine.listUsers({ limit: 6 })).next, exact.users[5]?.id);
  });

  it('refuses a bad limit or cursor with invalid_request', async () => {
    const { engine } = await createEngineFixture();
    for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
      await assert.rejects(engine.listUsers({ limit }), { code: 'invalid_request', field: 'limit' });
    }
    await assert.rejects(engine.listUsers({ after: 42 as never }), {
      code: 'invalid_request',
      field: 'after',
    });
    await assert.rejects(engine.listUsers({ after: '\ud800' }), { code: 'invalid_request', field: 'after' });
  });
});
