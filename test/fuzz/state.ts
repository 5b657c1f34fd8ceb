import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import type { Store } from '@tessera/core';

// Secrets (password hashes, session salts, encrypted keys, TOTP secrets, token hashes, webhook data
// carrying one-time tokens) are compared by digest, so a failure's diff prints none of them.
const SECRET_KEYS = /hash|salt|secret|private|^data$/i;

function digest(value: unknown): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12)}`;
}

/** `value` as JSON-ready data with every secret-named field replaced by its digest. */
function redact(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, item) => {
      if (item instanceof Uint8Array) return digest(Buffer.from(item).toString('base64'));
      return key !== '' && SECRET_KEYS.test(key) && item !== null ? digest(item) : item;
    }),
  );
}

/**
 * Everything the store holds that a request could change, read through the store API: every user
 * (token version, password hash, flags, profile, TOTP), each user's live sessions, identities and
 * recovery-code count, every session the test knows of (generation, last rotation, revocation), the
 * outbox in every state, the signing keys and the global not-before instant.
 */
export async function storeSnapshot(store: Store, knownSessionIds: Iterable<string>, nowMs: number) {
  const users = [];
  for (let after: string | null = null; ; ) {
    const page = await store.listUsers(after, 500);
    users.push(...page);
    if (page.length < 500) break;
    after = page.at(-1)?.id ?? null;
  }
  const perUser = [];
  for (const user of users) {
    perUser.push({
      id: user.id,
      live: (await store.listLiveSessions(user.id, nowMs)).map((s) => s.id),
      identities: await store.listIdentities(user.id),
      recoveryCodes: await store.countRecoveryCodes(user.id),
    });
  }
  const sessions = [];
  for (const id of [...knownSessionIds].sort()) sessions.push(await store.findSession(id));
  return redact({
    users,
    perUser,
    sessions,
    outbox: {
      pending: await store.listOutbox('pending', 1000),
      delivered: await store.listOutbox('delivered', 1000),
      dead: await store.listOutbox('dead', 1000),
    },
    signingKeys: await store.listSigningKeys(),
    notBefore: await store.getGlobalNotBeforeMs(),
    revokedSince: await store.listRevokedSince(0, 1000),
  });
}

/**
 * Every row of every table of an SQLite store file, read on a read-only connection: what the store API
 * cannot list (one-time tokens, known devices, recovery codes) and any table added later, secrets as
 * digests. The `/healthz` write probe's heartbeat row is left out.
 */
export function openTableDump(path: string): { dump(): Record<string, string[]>; close(): void } {
  const db = new DatabaseSync(path, { readOnly: true });
  return {
    dump() {
      const tables = db
        .prepare(
          "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .all() as { name: string }[];
      const out: Record<string, string[]> = {};
      for (const { name } of tables) {
        const rows = db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all();
        out[name] = rows
          .filter((row) => !(name === 'meta' && row.key === 'heartbeat'))
          .map((row) => JSON.stringify(redact(row)))
          .sort();
      }
      return out;
    },
    close: () => db.close(),
  };
}
