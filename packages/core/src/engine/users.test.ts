import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { createSqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { createEngineFixture } from '../testing/engine-fixture.ts';

async function rejectsWith(promise: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(
    promise,
    (error: unknown) =>
      isTesseraError(error) && error.code === code && (field === undefined || error.field === field),
  );
}

const STORES: Array<[string, () => { store: Store; done(): void }]> = [
  ['memory', () => ({ store: createMemoryStore(), done() {} })],
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-users-'));
      const store = createSqliteStore({ path: join(dir, 'test.db') });
      return {
        store,
        done() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

for (const [name, open] of STORES) {
  describe(`users and identities (${name} store)`, () => {
    it('creates users without a password, checks what it is given, and refuses a taken email', async () => {
      const { store, done } = open();
      try {
        const { engine, events } = await createEngineFixture({ store });
        const ada = await engine.createUser({
          email: ' Ada@Example.COM',
          emailVerified: true,
          roles: ['admin', 'ops'],
          profile: { name: ' Ada Lovelace ', phone_number: null },
        });
        assert.deepEqual(
          { ...ada, id: typeof ada.id, createdAt: ada.createdAt instanceof Date },
          {
            id: 'string',
            email: 'ada@example.com',
            emailVerified: true,
            roles: ['admin', 'ops'],
            profile: { name: 'Ada Lovelace', phone_number: null },
            tokenVersion: 1,
            twoFactor: false,
            disabled: false,
            createdAt: true,
          },
        );
        assert.equal((await store.findUserById(ada.id))?.passwordHash, null);
        assert.deepEqual(await engine.getUser(ada.id), ada);
        assert.deepEqual(await engine.findUserByEmail('ADA@example.com'), ada);
        const anonymous = await engine.createUser();
        assert.equal(anonymous.email, null);
        assert.ok(events.some((e) => e.type === 'user.created' && e.userId === ada.id && e.source === 'app'));
        // A user without a password cannot log in with one, whatever is tried.
        await rejectsWith(
          engine.login({ email: 'ada@example.com', password: 'correct horse battery staple' }),
          'invalid_credentials',
        );
        const before = (await engine.listUsers()).users.length;
        const cases: Array<[Record<string, unknown>, string, string]> = [
          [{ email: 'ada@example.com' }, 'email_taken', 'email'],
          [{ email: 'not-an-email' }, 'invalid_email', 'email'],
          [{ email: 'x'.repeat(300) }, 'invalid_email', 'email'],
          [{ emailVerified: true }, 'invalid_request', 'email_verified'],
          [{ email: 'b@example.com', emailVerified: 'yes' }, 'invalid_request', 'email_verified'],
          [{ roles: 'admin' }, 'invalid_request', 'roles'],
          [{ roles: [''] }, 'invalid_request', 'roles'],
          [{ profile: { is_admin: 'yes' } }, 'invalid_request', 'is_admin'],
          [{ profile: { phone_number: '12' } }, 'invalid_request', 'phone_number'],
          [{ profile: 'Ada' }, 'invalid_request', 'identity'],
        ];
        for (const [input, code, field] of cases) {
          await rejectsWith(
            engine.createUser(input as never),
            code,
            field === 'identity' ? undefined : field,
          );
        }
        await rejectsWith(engine.createUser(null as never), 'invalid_request');
        assert.equal((await engine.listUsers()).users.length, before);
        await rejectsWith(engine.getUser('nobody'), 'not_found');
      } finally {
        await store.close();
        done();
      }
    });

    it('lists users a page at a time, in id order, with a cursor', async () => {
      const { store, done } = open();
      try {
        const { engine } = await createEngineFixture({ store });
        const ids = [];
        for (let i = 0; i < 7; i += 1) ids.push((await engine.createUser({ email: `u${i}@example.com` })).id);
        ids.sort();
        const seen: string[] = [];
        let after: string | null = null;
        let pages = 0;
        do {
          const page = await engine.listUsers({ after, limit: 3 });
          seen.push(...page.users.map((u) => u.id));
          after = page.next;
          pages += 1;
        } while (after !== null);
        assert.deepEqual(seen, ids);
        assert.equal(pages, 3);
        assert.equal((await engine.listUsers({ limit: 7 })).next, null);
        assert.equal((await engine.listUsers()).users.length, 7);
        for (const bad of [{ limit: 0 }, { limit: 201 }, { limit: 1.5 }, { after: '../x' }, { after: 5 }]) {
          await rejectsWith(engine.listUsers(bad as never), 'invalid_request');
        }
      } finally {
        await store.close();
        done();
      }
    });

    it('links, finds, lists and unlinks identities; one identity belongs to one user', async () => {
      const { store, done } = open();
      try {
        const { engine, clock, events } = await createEngineFixture({ store });
        const ada = await engine.createUser({ email: 'ada@example.com' });
        const bob = await engine.createUser();
        const google = { issuer: 'https://accounts.google.com', subject: '1234' };
        const github = { issuer: 'https://github.com', subject: '1234' };
        assert.equal(await engine.linkIdentity(ada.id, google), 'linked');
        clock.advance(1000);
        assert.equal(await engine.linkIdentity(ada.id, github), 'linked');
        assert.equal(await engine.linkIdentity(ada.id, google), 'already_linked');
        await rejectsWith(engine.linkIdentity(bob.id, google), 'identity_taken');
        await rejectsWith(engine.linkIdentity('nobody', { ...google, subject: '9' }), 'not_found');
        assert.deepEqual(await engine.findUserByIdentity(google), ada);
        assert.equal(await engine.findUserByIdentity({ ...google, subject: '12345' }), null);
        const listed = await engine.listIdentities(ada.id);
        assert.deepEqual(
          listed.map((i) => [i.issuer, i.subject, i.linkedAt.getTime()]),
          [
            [google.issuer, '1234', clock.now() - 1000],
            [github.issuer, '1234', clock.now()],
          ],
        );
        assert.equal(await engine.unlinkIdentity(bob.id, google), false);
        assert.equal(await engine.unlinkIdentity(ada.id, google), true);
        assert.equal(await engine.findUserByIdentity(google), null);
        assert.equal(await engine.linkIdentity(bob.id, google), 'linked');
        assert.deepEqual(
          events.filter((e) => e.type.startsWith('identity.')).map((e) => e.type),
          ['identity.linked', 'identity.linked', 'identity.unlinked', 'identity.linked'],
        );
        for (const bad of [
          null,
          'google',
          { issuer: '', subject: 'x' },
          { issuer: 'https://x', subject: '' },
          { issuer: 'https://x', subject: 'a\u0000b' },
          { issuer: 'https://x', subject: 's'.repeat(256) },
          { issuer: 7, subject: 'x' },
        ]) {
          await rejectsWith(engine.linkIdentity(ada.id, bad as never), 'invalid_request');
          await rejectsWith(engine.findUserByIdentity(bad as never), 'invalid_request');
        }
        await rejectsWith(engine.listIdentities('nobody'), 'not_found');
      } finally {
        await store.close();
        done();
      }
    });
  });
}
