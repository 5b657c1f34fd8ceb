import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ChildServer, freePort, startChildServer } from '../helpers/child-server.ts';
import { PASSWORD } from '../helpers/server.ts';
import {
  type PrivatePostgres,
  privatePostgresProblem,
  skipReason,
  startPrivatePostgres,
} from '../helpers/services.ts';
import { ask, describeAnswer, describeOutcome, eventually, isTessera503, pause } from './http-probe.ts';
import {
  assertSessionsIntact,
  everyClientRotatesAgain,
  registerClients,
  slowestMs,
  startRefreshLoad,
  tally,
} from './refresh-load.ts';
import { terminate } from './terminate.ts';

const OUTAGE_MS = 10_000;
/** No request may take longer than this, outage or not. */
const DEADLINE_MS = 5000;

describe('fault: PostgreSQL stopped for 10 s under load', {
  skip: skipReason(privatePostgresProblem()),
}, () => {
  it('answers 503 service_unavailable with Retry-After in bounded time, recovers without a restart, revokes nothing', {
    timeout: 120_000,
  }, async (t) => {
    const pg: PrivatePostgres = await startPrivatePostgres();
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-pg-outage-'));
    let server: ChildServer | undefined;
    try {
      server = await startChildServer({
        TESSERA_DATABASE_URL: pg.url,
        TESSERA_PORT: String(await freePort()),
        TESSERA_DATA_DIR: dataDir,
        TESSERA_SECRET: randomBytes(32).toString('base64url'),
        TESSERA_RATE_LIMIT: 'off',
        // An answer lost while the database went away is retried after the outage: the grace
        // window must outlast it, or the retry would look like reuse (docs/scaling.md, "Faults").
        TESSERA_REUSE_GRACE: '30s',
      });
      const url = server.url;
      const pid = server.child.pid;
      const clients = await registerClients([url], 6);
      const [probe] = clients;
      assert.ok(probe);
      const load = startRefreshLoad(clients, { urls: () => [url], deadlineMs: DEADLINE_MS, maxMs: 60_000 });
      await eventually('rotations before the outage', 10_000, async () => load.acknowledged() >= 60);

      load.phase = 'stopping';
      pg.stop();
      load.phase = 'outage';
      const outageStarted = performance.now();
      // What else a client does meanwhile: read its profile, log in, ask for health.
      const me = await ask(url, 'GET', '/auth/me', { token: probe.accessToken, deadlineMs: DEADLINE_MS });
      assert.ok(isTessera503(me, 'service_unavailable'), `GET /auth/me: ${describeAnswer(me)}`);
      const login = await ask(url, 'POST', '/auth/login', {
        json: { email: probe.email, password: PASSWORD },
        deadlineMs: DEADLINE_MS,
      });
      assert.ok(isTessera503(login, 'service_unavailable'), `POST /auth/login: ${describeAnswer(login)}`);
      const health = await ask(url, 'GET', '/healthz', { deadlineMs: DEADLINE_MS });
      assert.equal(health.status, 503, health.text);
      await pause(OUTAGE_MS - (performance.now() - outageStarted));

      load.phase = 'restarting';
      pg.start();
      load.phase = 'recovered';
      const recoveryMs = await eventually(
        'every client rotates again',
        15_000,
        everyClientRotatesAgain(clients),
      );
      await load.stop();

      const outage = tally(load.records, 'outage');
      t.diagnostic(
        `outage: ${JSON.stringify(outage)}, slowest ${slowestMs(load.records, 'outage').toFixed(0)} ms; ` +
          `recovered ${recoveryMs.toFixed(0)} ms after the restart; whole run ${JSON.stringify(tally(load.records))}`,
      );
      assert.ok((outage['503:service_unavailable'] ?? 0) > 0, 'the outage was felt');
      for (const record of load.records) {
        const { outcome, phase } = record;
        // No request hangs, none is cut, nothing but a rotation or a clean 503 is ever answered:
        // a 4xx here would mean a session wrongly refused, a 500 a failure leaking out.
        assert.equal(outcome.kind, 'answer', `${phase}: ${describeOutcome(outcome)}`);
        if (outcome.kind !== 'answer') continue;
        const { answer } = outcome;
        // Answered before the stop began: PostgreSQL was up for the whole request.
        if (record.settledIn === 'start') assert.equal(answer.status, 200, describeAnswer(answer));
        else if (answer.status !== 200)
          assert.ok(isTessera503(answer, 'service_unavailable'), `${phase}: ${describeAnswer(answer)}`);
      }

      await assertSessionsIntact(url, clients);
      assert.equal((await ask(url, 'GET', '/healthz')).status, 200);
      assert.equal(server.child.pid, pid);
      assert.equal(server.child.exitCode, null, 'Tessera was not restarted');
    } finally {
      if (server) await terminate(server);
      pg.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    }
    assert.doesNotMatch(server.output(), /reuse detected/, 'no false reuse alarm');
  });
});
