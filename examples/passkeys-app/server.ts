// An Express app that signs users in with passkeys (WebAuthn, through @simplewebauthn/server) and hands
// the session to Tessera: once a passkey checks out, the app calls `engine.startSession` with
// `amr: ['hwk', 'user']`, and the browser gets Tessera's refresh cookie as after a login. Tessera's
// routes under /api do the rest (refresh, device list, logout). WebAuthn needs a domain: open the
// app at http://localhost:3000, not 127.0.0.1.
// Run: npm exec -- node --conditions=@tessera/source examples/passkeys-app/server.ts
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { isTesseraError } from '@tessera/core';
import { requireSession, tesseraRoutes } from '@tessera/server/express';
import express from 'express';
import { type ExampleOptions, exampleIssuer, listenExample, openExampleEngine } from '../engine.ts';
import { clientOf, sendSession } from '../web-response.ts';

/** How long a WebAuthn challenge may be answered. */
const CHALLENGE_TTL_MS = 5 * 60_000;
// A passkey is a hardware- or platform-held key (RFC 8176 `hwk`) unlocked by the user (`user`).
const PASSKEY_AMR = ['hwk', 'user'];

/** The app's own table of passkeys: Tessera knows the user, the app knows their credentials. */
function openPasskeys(path: string) {
  const db = new DatabaseSync(path);
  db.exec(`CREATE TABLE IF NOT EXISTS passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    public_key BLOB NOT NULL,
    counter INTEGER NOT NULL,
    transports TEXT NOT NULL
  )`);
  const insert = db.prepare(
    'INSERT INTO passkeys (id, user_id, public_key, counter, transports) VALUES (?, ?, ?, ?, ?)',
  );
  const find = db.prepare('SELECT * FROM passkeys WHERE id = ?');
  const setCounter = db.prepare('UPDATE passkeys SET counter = ? WHERE id = ?');
  return {
    add(userId: string, credential: WebAuthnCredential) {
      insert.run(
        credential.id,
        userId,
        credential.publicKey,
        credential.counter,
        JSON.stringify(credential.transports ?? []),
      );
    },
    find(id: string): { userId: string; credential: WebAuthnCredential } | null {
      const row = find.get(id) as
        | { id: string; user_id: string; public_key: Uint8Array; counter: number; transports: string }
        | undefined;
      if (!row) return null;
      return {
        userId: row.user_id,
        credential: {
          id: row.id,
          publicKey: new Uint8Array(row.public_key),
          counter: row.counter,
          transports: JSON.parse(row.transports),
        },
      };
    },
    setCounter: (id: string, counter: number) => setCounter.run(counter, id),
    close: () => db.close(),
  };
}

/** Pending WebAuthn ceremonies by a random flow id, each answerable once, within five minutes. */
function createFlows() {
  const flows = new Map<string, { challenge: string; email: string | null; expiresAtMs: number }>();
  return {
    open(challenge: string, email: string | null): string {
      const id = randomBytes(16).toString('base64url');
      flows.set(id, { challenge, email, expiresAtMs: Date.now() + CHALLENGE_TTL_MS });
      return id;
    },
    take(id: unknown) {
      if (typeof id !== 'string') return null;
      const flow = flows.get(id);
      flows.delete(id);
      return flow && flow.expiresAtMs > Date.now() ? flow : null;
    },
  };
}

function refuse(res: express.Response, status: number, error: string, description: string): void {
  res.status(status).json({ error, error_description: description });
}

/**
 * Builds the app: the page at `/`, the passkey ceremonies under `/passkeys`, Tessera under `/api`, and
 * `GET /api/orders` behind `requireSession`.
 * @example
 * const { app, tessera, opened } = await createApp({ issuer: 'http://localhost:3000' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const issuer = options.issuer ?? exampleIssuer(options).replace('127.0.0.1', 'localhost');
  const opened = await openExampleEngine('passkeys-app', { ...options, issuer });
  const { engine } = opened;
  const dir = options.dataDir ?? process.env.TESSERA_EXAMPLE_DIR ?? './.tessera-example';
  mkdirSync(dir, { recursive: true });
  const passkeys = openPasskeys(join(dir, 'passkeys.db'));
  const flows = createFlows();
  const { origin, hostname: rpID } = new URL(issuer);
  const here = dirname(new URL(import.meta.url).pathname);
  const page = readFileSync(join(here, 'page.html'), 'utf8');
  const browserLibrary = join(
    dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
    '../dist/bundle/index.umd.min.js',
  );

  const app = express();
  app.use(express.json());
  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);

  const startSession = (req: express.Request, res: express.Response, userId: string, status: number) =>
    sendSession(
      req,
      res,
      tessera.handler,
      () => engine.startSession({ userId, amr: PASSKEY_AMR, ...clientOf(req) }),
      status,
    );

  app.get('/', (_req, res) => {
    res.type('html').send(page);
  });
  app.get('/vendor/simplewebauthn-browser.js', (_req, res) => {
    res.type('js').sendFile(browserLibrary);
  });

  app.post('/passkeys/register/options', async (req, res) => {
    const email = typeof req.body?.email === 'string' ? req.body.email.trim().toLowerCase() : '';
    if (!email || email.length > 254) return refuse(res, 400, 'invalid_request', 'Send an email.');
    if (await engine.findUserByEmail(email)) {
      return refuse(res, 409, 'email_taken', 'This email has an account; sign in with its passkey.');
    }
    const creation = await generateRegistrationOptions({
      rpName: 'Tessera passkeys example',
      rpID,
      userName: email,
      attestationType: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    res.json({ flow: flows.open(creation.challenge, email), options: creation });
  });

  app.post('/passkeys/register/verify', async (req, res) => {
    const flow = flows.take(req.body?.flow);
    if (!flow?.email) return refuse(res, 400, 'invalid_request', 'This registration expired; start again.');
    let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verification = await verifyRegistrationResponse({
        response: req.body.response,
        expectedChallenge: flow.challenge,
        expectedOrigin: origin,
        expectedRPID: rpID,
        requireUserVerification: true,
      });
    } catch {
      return refuse(res, 400, 'invalid_request', 'The passkey could not be verified.');
    }
    if (!verification.verified)
      return refuse(res, 400, 'invalid_request', 'The passkey could not be verified.');
    try {
      // The user exists in Tessera only once their passkey does.
      const user = await engine.createUser({ email: flow.email, emailVerified: false });
      passkeys.add(user.id, verification.registrationInfo.credential);
      await startSession(req, res, user.id, 201);
    } catch (error) {
      if (!isTesseraError(error)) throw error;
      refuse(res, error.status, error.code, error.message);
    }
  });

  app.post('/passkeys/login/options', async (_req, res) => {
    const request = await generateAuthenticationOptions({ rpID, userVerification: 'required' });
    res.json({ flow: flows.open(request.challenge, null), options: request });
  });

  app.post('/passkeys/login/verify', async (req, res) => {
    const flow = flows.take(req.body?.flow);
    const id = req.body?.response?.id;
    const stored = typeof id === 'string' ? passkeys.find(id) : null;
    if (!flow || !stored) return refuse(res, 401, 'invalid_credentials', 'This passkey is not known here.');
    let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verification = await verifyAuthenticationResponse({
        response: req.body.response,
        expectedChallenge: flow.challenge,
        expectedOrigin: origin,
        expectedRPID: rpID,
        credential: stored.credential,
        requireUserVerification: true,
      });
    } catch {
      return refuse(res, 401, 'invalid_credentials', 'The passkey could not be verified.');
    }
    if (!verification.verified)
      return refuse(res, 401, 'invalid_credentials', 'The passkey could not be verified.');
    // A counter that does not move forward can mean a cloned authenticator; the library refuses it.
    passkeys.setCounter(stored.credential.id, verification.authenticationInfo.newCounter);
    await startSession(req, res, stored.userId, 200);
  });

  app.get('/api/orders', requireSession(engine), (req, res) => {
    res.json({ orders: [{ id: 1, item: 'tea' }], for: req.auth?.sub, amr: req.auth?.amr });
  });

  return {
    app,
    tessera,
    opened: {
      ...opened,
      async close() {
        passkeys.close();
        await opened.close();
      },
    },
  };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port); browse to it as `localhost`.
 * @example
 * const { url, close } = await start(3000, { dataDir: tmp, issuer: 'http://localhost:3000' });
 */
export async function start(port = 3000, options: ExampleOptions = {}) {
  const { app, tessera, opened } = await createApp(options);
  return listenExample(app, port, opened, tessera);
}

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 3000);
  await start(port);
  console.log(`Passkeys app with Tessera sessions at http://localhost:${port}/`);
}
