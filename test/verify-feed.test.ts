import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '@tessera/core';
import { createVerifier, type Verifier, VerifyError } from '@tessera/verify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const ISSUER = 'https://issuer.test';
const clock = createManualClock(Date.now());
const streams: Array<{ res: ServerResponse; lastEventId: string | undefined }> = [];
let base: string;
let close: () => Promise<void>;
let verifier: Verifier;
let token: string;

async function eventually(probe: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('@tessera/verify on a half-open revocation stream', () => {
  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
    const nowSeconds = Math.floor(clock.now() / 1000);
    token = await new SignJWT({
      sub: 'u1',
      sid: 's1',
      ver: 1,
      jti: 'j1',
      iat: nowSeconds,
      exp: nowSeconds + 3600,
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(ISSUER)
      .sign(privateKey);
    // A tiny feed: the first stream sends one event, then neither bytes nor a close (a half-open
    // connection, as a dead proxy leaves it); later streams send a heartbeat and stay open.
    const server = createServer((req, res) => {
      if (req.url === '/jwks.json') return void res.end(JSON.stringify({ keys: [jwk] }));
      if (req.url === '/revocations') return void res.end(JSON.stringify({ cursor: '1-0', revocations: [] }));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const lastEventId = req.headers['last-event-id'] as string | undefined;
      streams.push({ res, lastEventId });
      if (streams.length === 1) {
        res.write(
          'id: 5-1\nevent: revocation\ndata: {"type":"session","sid":"other","sub":"u2","at_ms":1,"until_ms":99999999999999}\n\n',
        );
      } else {
        res.write('event: heartbeat\ndata: {}\n\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    close = async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    };
    verifier = createVerifier({
      issuer: ISSUER,
      audience: ISSUER,
      jwksUrl: `${base}/jwks.json`,
      revocationsUrl: `${base}/revocations`,
      onStale: 'reject',
      maxStalenessMs: 30_000,
      feedSilenceMs: 500,
      now: () => clock.now(),
    });
    await verifier.ready();
  });
  after(async () => {
    await verifier?.close();
    await close?.();
  });

  it('reports the staleness while the stream is silent, then drops it, reconnects from the last id, and is current again', async () => {
    await eventually(() => verifier.status().revocations === 1, 'the first stream’s event');
    assert.equal((await verifier.verify(token)).sub, 'u1');
    // Silence: half a minute passes on the verifier's clock before the watchdog (real time) acts.
    clock.advance(31_000);
    const stale = verifier.status();
    assert.equal(stale.stale, true);
    assert.ok(stale.feedLagMs >= 31_000, `lag ${stale.feedLagMs}`);
    await assert.rejects(
      verifier.verify(token),
      (error: unknown) => error instanceof VerifyError && error.code === 'temporarily_unavailable',
    );
    await eventually(() => streams.length >= 2, 'a second stream after the silence');
    assert.equal(streams[1]?.lastEventId, '5-1', 'resumed from the last event id');
    await eventually(() => !verifier.status().stale, 'current again after the new stream’s heartbeat');
    const status = verifier.status();
    assert.ok(status.feedReconnects >= 1);
    assert.match(status.feedError ?? '', /silent for 500 ms/);
    assert.equal(status.revocations, 1, 'nothing lost');
    assert.equal((await verifier.verify(token)).sub, 'u1');
  });
});
