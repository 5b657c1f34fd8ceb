import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { registerUser, startTestServer, type TestServer } from './helpers/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const PER_CLASS = 250;
const WARMUP = 20;
const PERMUTATIONS = 10_000;
const ACCOUNTS = 50;

let t: TestServer;
let receiver: WebhookReceiver;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

before(async () => {
  receiver = await startWebhookReceiver(() => t.clock.now());
  t = await startTestServer({ TESSERA_WEBHOOK_URL: receiver.url, TESSERA_WEBHOOK_SECRET: receiver.secret });
});
after(async () => {
  agent.destroy();
  await t.close();
  await receiver.close();
  assert.deepEqual(receiver.rejected, [], 'every delivery verified with Webhook.verify');
});

/** One forgot-password request on a kept-alive connection; resolves to its status and duration (ms). */
function forgot(email: string): Promise<{ status: number; ms: number; body: string }> {
  const body = JSON.stringify({ email });
  const url = new URL('/auth/password/forgot', t.url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: text }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Two-sided permutation test of the difference of medians: the share of label shuffles at least as far apart. */
function permutationP(a: readonly number[], b: readonly number[]): number {
  const observed = Math.abs(median(a) - median(b));
  const pooled = [...a, ...b];
  let extreme = 0;
  for (let round = 0; round < PERMUTATIONS; round += 1) {
    for (let i = pooled.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [pooled[i], pooled[j]] = [pooled[j] as number, pooled[i] as number];
    }
    if (Math.abs(median(pooled.slice(0, a.length)) - median(pooled.slice(a.length))) >= observed)
      extreme += 1;
  }
  return (extreme + 1) / (PERMUTATIONS + 1);
}

describe('forgot-password timing', () => {
  it('answers known and unknown emails in the same time (medians within the noise)', {
    timeout: 120_000,
  }, async (ctx) => {
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i += 1) {
      accounts.push((await registerUser(t.url, `timing-${i}@example.com`)).email);
    }
    /** One sample: known and unknown emails interleaved in a random order, so drift and background work (deliveries) fall on both alike. */
    const sample = async () => {
      // Rate limits are off in this server: each request does its full work (a newer token voids the older).
      const known = Array.from({ length: PER_CLASS + WARMUP }, (_, i) => accounts[i % ACCOUNTS] as string);
      const unknown = known.map((_, i) => `nobody-${i}@example.com`);
      const plan = [
        ...known.map((email) => ({ email, known: true })),
        ...unknown.map((email) => ({ email, known: false })),
      ];
      for (let i = plan.length - 1; i > 0; i -= 1) {
        const j = Math.floor(Math.random() * (i + 1));
        [plan[i], plan[j]] = [plan[j] as (typeof plan)[number], plan[i] as (typeof plan)[number]];
      }
      const times = { known: [] as number[], unknown: [] as number[] };
      let seen = 0;
      for (const step of plan) {
        const answer = await forgot(step.email);
        assert.deepEqual([answer.status, answer.body], [202, '']);
        seen += 1;
        if (seen > 2 * WARMUP) (step.known ? times.known : times.unknown).push(answer.ms);
      }
      const p = permutationP(times.known, times.unknown);
      const iqr = (values: number[]) => {
        const sorted = [...values].sort((x, y) => x - y);
        return `${(sorted[Math.floor(sorted.length / 4)] as number).toFixed(3)}–${(sorted[Math.floor((3 * sorted.length) / 4)] as number).toFixed(3)}`;
      };
      ctx.diagnostic(
        `forgot-password over HTTP (SQLite, synchronous=FULL, webhooks on): known ${times.known.length} median ${median(times.known).toFixed(3)} ms (IQR ${iqr(times.known)}), unknown ${times.unknown.length} median ${median(times.unknown).toFixed(3)} ms (IQR ${iqr(times.unknown)}), permutation p = ${p.toFixed(4)}`,
      );
      return p;
    };
    // Under equal timing p is uniform: below 0.001 happens once in a thousand samples by chance, and
    // a burst of other work on a shared CI machine can cause it too. A detection stands only when an
    // independent second sample confirms it (both below 0.001: once in a million by chance), which a
    // real difference in the work done for known emails always would.
    let p = await sample();
    if (p < 0.001) p = Math.max(p, await sample());
    await receiver.next((e) => e.type === 'password_reset.requested', 10_000);
    assert.ok(p >= 0.001, `the medians differ beyond the noise in two samples (p = ${p})`);
  });
});
