// An app that keeps its own password table (argon2id hashes in its own SQLite table) and uses Tessera
// only for sessions: after checking a password itself, it calls `engine.startSession`. This is where
// most teams that want better sessions start: no user moves, no password moves.
// Run: npm exec -- node --conditions=@tessera/source examples/own-password-app/server.ts
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { hash, verify } from '@node-rs/argon2';
import { isTesseraError } from '@tessera/core';
import { requireSession, tesseraRoutes } from '@tessera/server/express';
import express from 'express';
import { type ExampleOptions, listenExample, openExampleEngine } from '../engine.ts';
import { clientOf, sendSession } from '../web-response.ts';

/** The app's own argon2id cost (OWASP's minimum: 19 MiB, 2 passes); tests pass faster ones. */
export interface OwnPasswordOptions extends ExampleOptions {
  hashCost?: { memoryCost: number; timeCost: number };
}

/**
 * The app's own accounts table: its email, its argon2id hash, and the Tessera user it maps to. The
 * table is the app's; Tessera never sees a password.
 */
function openAccounts(path: string) {
  const db = new DatabaseSync(path);
  db.exec(`CREATE TABLE IF NOT EXISTS accounts (
    email TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    tessera_user_id TEXT NOT NULL UNIQUE
  )`);
  const insert = db.prepare('INSERT INTO accounts (email, password_hash, tessera_user_id) VALUES (?, ?, ?)');
  const find = db.prepare('SELECT password_hash, tessera_user_id FROM accounts WHERE email = ?');
  return {
    add: (email: string, passwordHash: string, userId: string) => insert.run(email, passwordHash, userId),
    find: (email: string) =>
      find.get(email) as { password_hash: string; tessera_user_id: string } | undefined,
    close: () => db.close(),
  };
}

function credentials(body: unknown): { email: string; password: string } | null {
  const { email, password } = (body ?? {}) as Record<string, unknown>;
  if (typeof email !== 'string' || typeof password !== 'string') return null;
  if (email.length > 254 || password.length < 8 || password.length > 1024) return null;
  return { email: email.trim().toLowerCase(), password };
}

/**
 * Builds the app: `POST /signup` and `POST /login` (its own password checks), Tessera's routes under
 * `/api` (refresh, sessions, logout, …), and `GET /api/orders` behind `requireSession`.
 * @example
 * const { app, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: OwnPasswordOptions = {}) {
  const opened = await openExampleEngine('own-password-app', options);
  const { engine } = opened;
  const dir = options.dataDir ?? process.env.TESSERA_EXAMPLE_DIR ?? './.tessera-example';
  mkdirSync(dir, { recursive: true });
  const accounts = openAccounts(join(dir, 'own-password-accounts.db'));
  const cost = options.hashCost ?? { memoryCost: 19_456, timeCost: 2 };
  // Compared against when the email is unknown, so an unknown email costs what a wrong password costs.
  const dummyHash = hash('not anyone’s password', cost);

  const app = express();
  app.use(express.json());
  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);

  const signIn = (req: express.Request, res: express.Response, userId: string, status: number) =>
    sendSession(
      req,
      res,
      tessera.handler,
      () => engine.startSession({ userId, amr: ['pwd'], ...clientOf(req) }),
      status,
    );

  app.post('/signup', async (req, res) => {
    const given = credentials(req.body);
    if (!given) {
      res.status(400).json({
        error: 'invalid_request',
        error_description: 'Send an email and a password of 8+ characters.',
      });
      return;
    }
    if (accounts.find(given.email)) {
      res.status(409).json({ error: 'email_taken', error_description: 'This email has an account; log in.' });
      return;
    }
    try {
      const passwordHash = await hash(given.password, cost);
      const user = await engine.createUser({ email: given.email });
      accounts.add(given.email, passwordHash, user.id);
      await signIn(req, res, user.id, 201);
    } catch (error) {
      if (!isTesseraError(error)) throw error;
      res.status(error.status).json({ error: error.code, error_description: error.message });
    }
  });

  app.post('/login', async (req, res) => {
    const given = credentials(req.body);
    const account = given ? accounts.find(given.email) : undefined;
    let passwordOk = false;
    if (given && account) passwordOk = await verify(account.password_hash, given.password);
    else await verify(await dummyHash, given?.password ?? 'no password given');
    if (!account || !passwordOk) {
      res
        .status(401)
        .json({ error: 'invalid_credentials', error_description: 'The email or password is incorrect.' });
      return;
    }
    await signIn(req, res, account.tessera_user_id, 200);
  });

  app.get('/api/orders', requireSession(engine), (req, res) => {
    res.json({ orders: [{ id: 1, item: 'tea' }], for: req.auth?.sub });
  });

  return {
    app,
    tessera,
    opened: {
      ...opened,
      async close() {
        accounts.close();
        await opened.close();
      },
    },
  };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port).
 * @example
 * const { url, close } = await start(0, { dataDir: tmp });
 */
export async function start(port = 3000, options: OwnPasswordOptions = {}) {
  const { app, tessera, opened } = await createApp(options);
  return listenExample(app, port, opened, tessera);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Own-password app with Tessera sessions at ${url}: POST /signup, POST /login, GET /api/orders`);
}
