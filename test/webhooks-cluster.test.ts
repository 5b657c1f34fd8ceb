import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sharedSchema } from './faults/postgres-schema.ts';
import { terminate } from './faults/terminate.ts';
import { type ChildServer, freePort, startChildServer } from './helpers/child-server.ts';
import { call, registerUser } from './helpers/server.ts';
import { sharedPostgresProblem, skipReason } from './helpers/services.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const USERS = 30;

/** Resolves once `probe` holds, checking each time the receiver hears something (bounded). */
async function until(receiver: WebhookReceiver, probe: () => boolean, timeoutMs: number, what: string) {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms`);
    await receiver.next(() => true, 1000).catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('webhook outbox across three instances over PostgreSQL', {
  skip: skipReason(sharedPostgresProblem()),
}, () => {
  it('delivers each event once while three workers race for the same retries', {
    timeout: 90_000,
  }, async (t) => {
    const schema = sharedSchema('webhooks_cluster');
    const receiver = await startWebhookReceiver();
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-webhooks-cluster-'));
    const env = {
      TESSERA_DATABASE_URL: schema.url,
      TESSERA_SECRET: randomBytes(32).toString('base64url'),
      TESSERA_RATE_LIMIT: 'off',
      TESSERA_WEBHOOK_URL: receiver.url,
      TESSERA_WEBHOOK_SECRET: receiver.secret,
    };
    const instances: ChildServer[] = [];
    try {
      for (const name of ['a', 'b', 'c']) {
        instances.push(
          await startChildServer({
            ...env,
            TESSERA_PORT: String(await freePort()),
            TESSERA_DATA_DIR: join(dataDir, name),
          }),
        );
      }
      // Every first attempt fails, so every event comes due again 5 s later on all three instances at once.
      receiver.mode = 'fail';
      await Promise.all(
        Array.from({ length: USERS }, (_, i) =>
          registerUser((instances[i % 3] as ChildServer).url, `cluster-${i}@example.com`),
        ),
      );
      const events = USERS * 2;
      const seen = () => new Set(receiver.attempts.map((e) => e.id)).size;
      await until(receiver, () => seen() === events, 20_000, `${events} first attempts`);
      receiver.mode = 'ok';
      const accepted = () => new Set(receiver.accepted.map((e) => e.id)).size;
      await until(receiver, () => accepted() === events, 30_000, `${events} deliveries`);

      const perId = new Map<string, number>();
      for (const e of receiver.attempts) perId.set(e.id, (perId.get(e.id) ?? 0) + 1);
      const counts = [...perId.values()];
      t.diagnostic(
        `${events} events, attempts per event: ${JSON.stringify(Object.fromEntries(counts.map((c) => [c, counts.filter((x) => x === c).length])))}`,
      );
      // Once every event is recorded delivered, nothing can deliver it again: count then. (The last
      // receipt may be a moment ahead of its sender's commit.)
      const listDelivered = () =>
        call((instances[0] as ChildServer).url, 'GET', '/admin/webhooks?state=delivered&limit=1000');
      let delivered = await listDelivered();
      for (let i = 0; i < 100 && delivered.body.events.length < events; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        delivered = await listDelivered();
      }
      assert.equal(delivered.body.events.length, events);
      const pending = await call((instances[1] as ChildServer).url, 'GET', '/admin/webhooks?state=pending');
      assert.deepEqual(pending.body.events, []);
      for (const [id, n] of perId) {
        assert.equal(receiver.accepted.filter((e) => e.id === id).length, 1, `${id} accepted once`);
        assert.equal(n, 2, `${id}: one refused attempt and one delivery, never claimed twice`);
      }
      for (const event of delivered.body.events) assert.equal(event.attempts, 2);
      assert.deepEqual(receiver.rejected, []);
    } finally {
      for (const instance of instances) await terminate(instance);
      await receiver.close();
      await schema.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
