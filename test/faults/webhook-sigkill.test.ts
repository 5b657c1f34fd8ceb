import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import pg from 'pg';
import { type ChildServer, freePort, startChildServer, stopChildServer } from '../helpers/child-server.ts';
import { call, registerUser } from '../helpers/server.ts';
import { sharedPostgresProblem, skipReason } from '../helpers/services.ts';
import { startWebhookReceiver } from '../helpers/webhook-receiver.ts';
import { sharedSchema } from './postgres-schema.ts';
import { terminate } from './terminate.ts';

/**
 * A user registers (committed: 201); the server's worker posts the two events and the receiver holds
 * both requests unanswered; the process is SIGKILLed with the deliveries in flight; a new process over
 * the same database delivers both once the dead worker's lease (2 × 3 s + 5 s) has run out. No event is
 * lost, and each reaches the receiver's 2xx once.
 */
async function killMidDelivery(
  database: Record<string, string>,
  inspect: (dataDir: string) => Promise<Array<{ state: string; attempts: number }>>,
  report: (line: string) => void,
): Promise<void> {
  const receiver = await startWebhookReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-webhook-kill-'));
  const env = {
    ...database,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_SECRET: randomBytes(32).toString('base64url'),
    TESSERA_RATE_LIMIT: 'off',
    TESSERA_WEBHOOK_URL: receiver.url,
    TESSERA_WEBHOOK_SECRET: receiver.secret,
    TESSERA_WEBHOOK_TIMEOUT: '3s',
  };
  const runs: ChildServer[] = [];
  try {
    receiver.mode = 'hold';
    let server = await startChildServer({ ...env, TESSERA_PORT: String(await freePort()) });
    runs.push(server);
    const held = [receiver.held(), receiver.held()];
    const user = await registerUser(server.url, 'killed-mid-delivery@example.com');
    const inFlight = await Promise.all(held);
    assert.deepEqual(inFlight.map((e) => e.type).sort(), ['session.created', 'user.created']);
    await stopChildServer(server, 'SIGKILL');
    const killedAt = performance.now();
    // Committed, claimed by the dead worker, never recorded as attempted: between commit and delivery.
    assert.deepEqual(await inspect(dataDir), [
      { state: 'pending', attempts: 0 },
      { state: 'pending', attempts: 0 },
    ]);
    receiver.mode = 'ok';
    server = await startChildServer({ ...env, TESSERA_PORT: String(await freePort()) });
    runs.push(server);
    const delivered = await Promise.all(inFlight.map((e) => receiver.next((x) => x.id === e.id, 30_000)));
    report(`delivered ${Math.round(performance.now() - killedAt)} ms after the kill (lease 11 s)`);
    assert.equal(
      delivered.find((e) => e.type === 'user.created')?.data.email,
      'killed-mid-delivery@example.com',
    );
    assert.equal(delivered.find((e) => e.type === 'session.created')?.data.session_id, user.session_id);
    for (const event of inFlight) {
      assert.equal(
        receiver.accepted.filter((e) => e.id === event.id).length,
        1,
        `${event.type} accepted once`,
      );
    }
    const login = await call(server.url, 'POST', '/auth/login', {
      json: { email: 'killed-mid-delivery@example.com', password: 'correct horse battery staple' },
    });
    assert.equal(login.status, 200, 'the registration itself survived');
    assert.deepEqual(receiver.rejected, []);
  } finally {
    for (const run of runs) await terminate(run);
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const LEASED = 'SELECT state, attempts FROM outbox WHERE lease_owner IS NOT NULL ORDER BY id';

describe('fault: SIGKILL between commit and webhook delivery', () => {
  it('SQLite: the held events are delivered after a restart', { timeout: 60_000 }, async (t) => {
    await killMidDelivery(
      {},
      async (dataDir) => {
        const db = new DatabaseSync(join(dataDir, 'tessera.db'), { readOnly: true });
        try {
          return db
            .prepare(LEASED)
            .all()
            .map((row) => ({ state: String(row.state), attempts: Number(row.attempts) }));
        } finally {
          db.close();
        }
      },
      (line) => t.diagnostic(line),
    );
  });

  it('PostgreSQL: the held events are delivered after a restart', {
    timeout: 60_000,
    skip: skipReason(sharedPostgresProblem()),
  }, async (t) => {
    const schema = sharedSchema('faults_webhook_kill');
    const name = new URL(schema.url).searchParams.get('schema') ?? '';
    try {
      await killMidDelivery(
        { TESSERA_DATABASE_URL: schema.url },
        async () => {
          const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
          await client.connect();
          try {
            const { rows } = await client.query(LEASED.replace('FROM outbox', `FROM ${name}.outbox`));
            return rows.map((row) => ({ state: String(row.state), attempts: Number(row.attempts) }));
          } finally {
            await client.end();
          }
        },
        (line) => t.diagnostic(line),
      );
    } finally {
      await schema.drop();
    }
  });
});
