import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createVerifier, type Verifier, VerifyError } from '@tessera/verify';
import { type CryptoKey, importJWK, type JWK, SignJWT } from 'jose';
import { freePort, TESSERA_BIN } from './helpers/child-server.ts';
import { call, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

const BIN = TESSERA_BIN;
const SECRET = randomBytes(32).toString('base64url');
let t: TestServer;
let verifier: Verifier;

/**
 * What an attacker who copied the database and the secret holds: the current signing key, decrypted
 * the way Tessera stores it (AES-256-GCM under a key derived from TESSERA_SECRET, the kid as AAD).
 */
async function stealSigningKey(): Promise<{ kid: string; alg: string; key: CryptoKey | Uint8Array }> {
  const record = (await t.server.store.listSigningKeys()).find((key) => key.retiredAtMs === null);
  assert.ok(record, 'a signing key');
  const kek = Buffer.from(
    hkdfSync('sha256', Buffer.from(SECRET, 'base64url'), 'tessera/v1', 'signing-key-encryption', 32),
  );
  const sealed = Buffer.from(record.privateJwkEncrypted, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', kek, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(record.kid));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const jwk = JSON.parse(
    Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]).toString(),
  ) as JWK;
  return { kid: record.kid, alg: record.alg, key: await importJWK(jwk, record.alg) };
}

/** A token for `claims` that the stolen key signs, valid for a day (a forger picks any `exp`). */
async function forge(stolen: Awaited<ReturnType<typeof stealSigningKey>>, claims: Record<string, unknown>) {
  const nowSeconds = Math.floor(t.clock.now() / 1000);
  return new SignJWT({ ...claims, jti: randomUUID(), iat: nowSeconds, exp: nowSeconds + 86_400 })
    .setProtectedHeader({ alg: stolen.alg, kid: stolen.kid, typ: 'at+jwt' })
    .sign(stolen.key);
}

async function publishedKids(): Promise<string[]> {
  const jwks = await call(t.url, 'GET', '/.well-known/jwks.json');
  return (jwks.body.keys as Array<{ kid: string }>).map((key) => key.kid);
}

const accepts = (token: string) =>
  verifier.verify(token).then(
    () => true,
    (error: unknown) => {
      assert.ok(error instanceof VerifyError && error.code === 'invalid_token', String(error));
      assert.match(error.description, /no known key/);
      return false;
    },
  );

describe('@tessera/verify after `tessera keys rotate`', () => {
  before(async () => {
    const port = await freePort();
    t = await startTestServer({
      TESSERA_PORT: String(port),
      TESSERA_ISSUER: `http://127.0.0.1:${port}`,
      TESSERA_SECRET: SECRET,
    });
    // Endpoints discovered from the server's RFC 8414 metadata; the feed is not what this test is about.
    verifier = createVerifier({ issuer: t.url, audience: t.url, feed: false, now: () => t.clock.now() });
    await verifier.ready();
  });
  after(async () => {
    await verifier?.close();
    await t?.close();
  });

  it('refuses tokens forged with the removed key within one JWKS max-age of its removal, cached ones included', async () => {
    const user = await registerUser(t.url);
    const claims = JSON.parse(Buffer.from(user.access_token.split('.')[1] ?? '', 'base64url').toString());
    const stolen = await stealSigningKey();
    const forged = await forge(stolen, claims);
    assert.equal(await accepts(forged), true, 'the stolen key verifies while it signs');

    // The operator's response to a stolen key, from another process over the same database.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@tessera/source', BIN, 'keys', 'rotate'],
      {
        env: {
          ...process.env,
          TESSERA_DATA_DIR: t.dataDir,
          TESSERA_SECRET: SECRET,
          TESSERA_LOG_LEVEL: 'silent',
        },
      },
    );
    assert.match(stdout, /New signing key/);
    t.clock.advance(31_000); // the server re-reads its keys every 30 s
    const fresh = await registerUser(t.url);
    const freshKid = JSON.parse(
      Buffer.from(fresh.access_token.split('.')[0] ?? '', 'base64url').toString(),
    ).kid;
    assert.notEqual(freshKid, stolen.kid, 'the new key signs');
    assert.equal((await verifier.verify(fresh.access_token)).sid, fresh.session_id, 'the new key is learned');

    // The old key stays published until every token it signed has expired; then it leaves.
    let removedAtMs: number | null = null;
    let refusedAtMs: number | null = null;
    for (let step = 0; step < 120 && refusedAtMs === null; step += 1) {
      t.clock.advance(10_000);
      if (removedAtMs === null && !(await publishedKids()).includes(stolen.kid)) removedAtMs = t.clock.now();
      if (!(await accepts(forged))) refusedAtMs = t.clock.now();
    }
    assert.ok(removedAtMs !== null && refusedAtMs !== null, 'the key left the JWKS and the verifier');
    assert.ok(refusedAtMs >= removedAtMs, 'never refused while the server still published it');
    // The server's JWKS says max-age=60: the verifier refetches within 60 s (checked every 10 s here).
    assert.ok(refusedAtMs - removedAtMs <= 70_000, `refused ${refusedAtMs - removedAtMs} ms after removal`);
    assert.equal(await accepts(await forge(stolen, claims)), false, 'a new forgery too');
    assert.equal(verifier.status().jwksKeys, 1);
    assert.equal(verifier.status().jwksError, null);
  });

  it('while the JWKS hangs, known keys keep verifying and a new key fails within the timeout; both recover', async () => {
    // A proxy in front of the server's JWKS that can stop answering (accept, then silence).
    let hang = false;
    let requests = 0;
    const proxy = createServer((_req, res) => {
      requests += 1;
      if (hang) return;
      fetch(`${t.url}/.well-known/jwks.json`).then(
        async (upstream) => {
          res.writeHead(upstream.status, { 'cache-control': upstream.headers.get('cache-control') ?? '' });
          res.end(await upstream.text());
        },
        () => res.writeHead(502).end(),
      );
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const timeoutMs = 500;
    const guarded = createVerifier({
      issuer: t.url,
      audience: t.url,
      jwksUrl: `http://127.0.0.1:${(proxy.address() as { port: number }).port}/jwks.json`,
      feed: false,
      fetchTimeoutMs: timeoutMs,
      now: () => t.clock.now(),
    });
    const timed = async <T>(work: Promise<T>) => {
      const started = performance.now();
      const outcome = await work.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      return { ...outcome, ms: performance.now() - started };
    };
    try {
      await guarded.ready();
      const user = await registerUser(t.url);
      hang = true;
      t.clock.advance(61_000); // the JWKS's max-age (60 s) ran out: the verifier refetches
      const known = await Promise.all(
        Array.from({ length: 10 }, () => timed(guarded.verify(user.access_token))),
      );
      assert.ok(
        known.every((r) => r.ok),
        'known keys keep verifying',
      );
      assert.ok(Math.max(...known.map((r) => r.ms)) < timeoutMs + 2000, 'within the timeout');
      assert.match(guarded.status().jwksError ?? '', /timed out after 500 ms/);

      await t.server.engine.rotateSigningKey();
      const next = await registerUser(t.url);
      t.clock.advance(10_000);
      const unknown = await timed(guarded.verify(next.access_token));
      assert.equal(unknown.ok, false);
      assert.ok(
        !unknown.ok && unknown.error instanceof VerifyError && /no known key/.test(unknown.error.description),
      );
      assert.ok(unknown.ms < timeoutMs + 2000, `refused after ${Math.round(unknown.ms)} ms`);
      assert.ok(
        (await timed(guarded.verify(user.access_token))).ok,
        'the known key still verifies meanwhile',
      );
      assert.equal(requests, 3, 'one fetch per attempt, never piled up');

      hang = false;
      t.clock.advance(10_000);
      assert.equal(
        (await guarded.verify(next.access_token)).sid,
        next.session_id,
        'the new key once the JWKS answers',
      );
      assert.equal(guarded.status().jwksError, null);
    } finally {
      await guarded.close();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
