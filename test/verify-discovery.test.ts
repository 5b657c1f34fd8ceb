import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createVerifier, type Verifier, type VerifierOptions, VerifyError } from '@tessera/verify';
import { start as startMountedApp } from '../examples/express-client/server.ts';
import { freePort } from './helpers/child-server.ts';
import { call, registerUser, startTestServer, TEST_ARGON2, type TestServer } from './helpers/server.ts';

const SERVICE_TOKEN = 'service-token-for-discovery-0123456789';
const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function listen(handler: RequestListener, port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

function verifierWith(options: VerifierOptions): Verifier {
  const verifier = createVerifier(options);
  cleanups.push(() => verifier.close());
  return verifier;
}

async function serverAtItsIssuer(env: Record<string, string> = {}): Promise<TestServer> {
  const port = await freePort();
  const t = await startTestServer({
    TESSERA_PORT: String(port),
    TESSERA_ISSUER: `http://127.0.0.1:${port}`,
    ...env,
  });
  cleanups.push(() => t.close());
  return t;
}

async function eventually(probe: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}

const refused = (verifier: Verifier, token: string) =>
  verifier.verify(token).then(
    () => false,
    () => true,
  );

/** Asserts that `verify` fails with the setup sentence (a 503 to callers), never "no known key". */
async function assertNotReady(verifier: Verifier, token: string, sentence: RegExp): Promise<void> {
  await assert.rejects(verifier.verify(token), (error: unknown) => {
    assert.ok(error instanceof VerifyError, String(error));
    assert.equal(error.code, 'temporarily_unavailable');
    assert.match(error.message, sentence);
    assert.doesNotMatch(error.message, /known key/);
    assert.doesNotMatch(error.description, /http/, 'the caller gets no internal URL');
    return true;
  });
}

describe('@tessera/verify discovers its endpoints (RFC 8414)', () => {
  it('from a standalone server: only issuer and audience, verifying before ready() waits for setup', async () => {
    const t = await serverAtItsIssuer({ TESSERA_SERVICE_TOKEN: SERVICE_TOKEN });
    const user = await registerUser(t.url);
    const verifier = verifierWith({ issuer: t.url, audience: t.url, serviceToken: SERVICE_TOKEN });
    assert.equal((await verifier.verify(user.access_token)).sid, user.session_id);
    await verifier.ready();
    assert.equal(verifier.status().ready, true);
    await call(t.url, 'POST', '/auth/logout', { json: { refresh_token: user.refresh_token } });
    await eventually(() => refused(verifier, user.access_token), 'the logout reaches the verifier');
  });

  it('for a mounted app: the metadata names the JWKS, introspection and tessera_revocations_endpoint under the mount', async () => {
    // The issuer's metadata, as a proxy or the app publishes it at the issuer (RFC 8414 §3), for
    // Tessera mounted under /api in an Express app elsewhere.
    const issuerPort = await freePort();
    const issuer = `http://127.0.0.1:${issuerPort}`;
    const dir = mkdtempSync(join(tmpdir(), 'tessera-discovery-'));
    const app = await startMountedApp(0, {
      dbPath: join(dir, 'app.db'),
      argon2: TEST_ARGON2,
      rateLimits: false,
      issuer,
    });
    cleanups.push(async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const metadataRequests: string[] = [];
    await listen((req, res) => {
      metadataRequests.push(req.url ?? '');
      if (req.url !== '/.well-known/oauth-authorization-server') return void res.writeHead(404).end();
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer,
          jwks_uri: `${app.url}/api/.well-known/jwks.json`,
          introspection_endpoint: `${app.url}/api/oauth/introspect`,
          tessera_revocations_endpoint: `${app.url}/api/auth/revocations`,
        }),
      );
    }, issuerPort);
    const register = await call(app.url, 'POST', '/api/auth/register', {
      json: { email: 'mounted@example.com', password: 'correct horse battery staple' },
    });
    assert.equal(register.status, 201, register.text);
    const verifier = verifierWith({ issuer, audience: issuer });
    await verifier.ready();
    assert.deepEqual(metadataRequests, ['/.well-known/oauth-authorization-server']);
    assert.equal((await verifier.verify(register.body.access_token)).sid, register.body.session_id);
    await eventually(async () => verifier.status().feedConnected, 'the stream under the mount');
    await call(app.url, 'POST', '/api/auth/logout', { json: { refresh_token: register.body.refresh_token } });
    await eventually(() => refused(verifier, register.body.access_token), 'the logout reaches the verifier');
  });

  it('for an issuer with a path: the well-known path goes between host and path, the appended form is tried next', async () => {
    const t = await serverAtItsIssuer();
    const seen: string[] = [];
    const { url } = await listen((req, res) => {
      seen.push(req.url ?? '');
      if (req.url !== '/tenant/.well-known/oauth-authorization-server') return void res.writeHead(404).end();
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: `http://127.0.0.1:${req.socket.localPort}/tenant`,
          jwks_uri: `${t.url}/.well-known/jwks.json`,
          tessera_revocations_endpoint: `${t.url}/auth/revocations`,
        }),
      );
    });
    const verifier = verifierWith({ issuer: `${url}/tenant/`, audience: 'x' });
    await verifier.ready();
    assert.deepEqual(seen, [
      '/.well-known/oauth-authorization-server/tenant',
      '/tenant/.well-known/oauth-authorization-server',
    ]);
    assert.equal(verifier.status().jwksKeys, 1);
  });

  it('fails loudly when there is no metadata: the URL tried, what it answered, the options to set', async () => {
    const { url } = await listen((_req, res) => res.writeHead(404).end());
    const verifier = verifierWith({ issuer: url, audience: url });
    const sentence = new RegExp(
      `Cannot discover the issuer's endpoints: GET ${url}/\\.well-known/oauth-authorization-server answered 404\\. .*set the jwksUrl and revocationsUrl options`,
    );
    await assert.rejects(verifier.ready(), sentence);
    await assertNotReady(verifier, 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.c2ln', sentence);
    assert.match(verifier.status().setupError ?? '', sentence);
    assert.equal(verifier.status().ready, false);
  });

  it('says what went wrong for an unreachable issuer, a wrong JWKS URL, foreign metadata and a refused feed', async () => {
    const closedPort = await freePort();
    const down = verifierWith({ issuer: `http://127.0.0.1:${closedPort}`, audience: 'x' });
    await assert.rejects(
      down.ready(),
      /GET http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-authorization-server failed \(ECONNREFUSED\)/,
    );

    const t = await serverAtItsIssuer({ TESSERA_SERVICE_TOKEN: SERVICE_TOKEN });
    const wrongJwks = verifierWith({
      issuer: t.url,
      audience: t.url,
      jwksUrl: `${t.url}/jwks.json`,
      feed: false,
    });
    await assert.rejects(
      wrongJwks.ready(),
      new RegExp(
        `Cannot load the issuer's signing keys: GET ${t.url}/jwks\\.json answered 404\\. Set the jwksUrl option`,
      ),
    );
    const user = await registerUser(t.url);
    await assertNotReady(wrongJwks, user.access_token, /Cannot load the issuer's signing keys/);

    const slash = verifierWith({ issuer: `${t.url}/`, audience: t.url, serviceToken: SERVICE_TOKEN });
    await slash.ready(); // a trailing slash names the same issuer

    const { url: other } = await listen((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: 'https://someone-else.example',
          jwks_uri: `${t.url}/.well-known/jwks.json`,
        }),
      );
    });
    const impostor = verifierWith({ issuer: other, audience: 'x' });
    await assert.rejects(
      impostor.ready(),
      /metadata for issuer "https:\/\/someone-else\.example".*set issuer to the tokens' "iss"/,
    );

    const noServiceToken = verifierWith({ issuer: t.url, audience: t.url });
    await assert.rejects(
      noServiceToken.ready(),
      new RegExp(
        `Cannot load the revocation snapshot: GET ${t.url}/auth/revocations answered 401\\. Set the serviceToken option`,
      ),
    );
  });

  it('recovers by itself when the issuer comes up after the verifier', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const verifier = verifierWith({ issuer, audience: issuer, fetchTimeoutMs: 1000 });
    await assert.rejects(verifier.ready(), /ECONNREFUSED/);
    const t = await startTestServer({ TESSERA_PORT: String(port), TESSERA_ISSUER: issuer });
    cleanups.push(() => t.close());
    await verifier.ready();
    const user = await registerUser(t.url);
    assert.equal((await verifier.verify(user.access_token)).sid, user.session_id);
  });
});
