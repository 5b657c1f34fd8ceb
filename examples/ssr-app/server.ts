// A server-rendered Express app: HTML pages that read the session from Tessera's HttpOnly access-token
// cookie (`tessera_access`), a form post protected by the Origin check, a silent refresh on navigation
// once the access cookie has expired, and logout.
// Run: npm exec -- node --conditions=@tessera/source examples/ssr-app/server.ts
import { join } from 'node:path';
import { requireSession, tesseraRoutes } from '@tessera/server/express';
import express, { type Request, type Response } from 'express';
import { type ExampleOptions, exampleIssuer, listenExample, openExampleEngine } from '../engine.ts';
import { accountPage, homePage, loginPage, refreshPage, safeNext } from './pages.ts';

// The pages allow their own script only; forms post to this origin only.
const CSP =
  "default-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The origins a loopback issuer is reached at: both spellings of the local host. */
function originsOf(issuer: string): string[] {
  const url = new URL(issuer);
  const origins = [url.origin];
  if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') {
    for (const name of ['127.0.0.1', 'localhost']) {
      url.hostname = name;
      if (!origins.includes(url.origin)) origins.push(url.origin);
    }
  }
  return origins;
}

/**
 * Builds the app: Tessera's routes under `/api`, and pages rendered on the server (`/`, `/login`,
 * `/refresh`, `/account`, `POST /notes`).
 * @example
 * const { app, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('ssr', options);
  const { engine } = opened;
  const allowedOrigins = originsOf(exampleIssuer(options));
  const app = express();
  const notes = new Map<string, string[]>();

  app.use((_req, res, next) => {
    res.set({
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
    });
    next();
  });
  app.use(express.static(join(import.meta.dirname, 'public')));
  const tessera = tesseraRoutes({ engine, prefix: '/api', allowedOrigins });
  app.use(tessera);

  // Pages decide themselves what a visitor without a session sees (`optional`); a form post that uses
  // the cookie must still come from an allowed Origin, or it is refused with 403.
  const session = requireSession(engine, { optional: true, allowedOrigins });
  const page = (res: Response, html: string) => res.type('html').set('cache-control', 'no-store').send(html);
  // No valid access cookie: try the refresh cookie once (the /refresh page), and sign in if that fails.
  const toRefresh = (req: Request, res: Response) =>
    res.redirect(303, `/refresh?next=${encodeURIComponent(req.originalUrl)}`);

  app.get('/', (_req, res) => page(res, homePage()));
  app.get('/login', (req, res) => page(res, loginPage(safeNext(req.query.next))));
  app.get('/refresh', (req, res) => page(res, refreshPage(safeNext(req.query.next))));

  app.get('/account', session, async (req, res) => {
    const claims = req.auth;
    if (!claims) return toRefresh(req, res);
    const [profile, sessions] = await Promise.all([
      engine.getProfile(claims.sub),
      engine.listSessions(claims.sub, claims.sid as string),
    ]);
    return page(
      res,
      accountPage({
        email: profile.email ?? '',
        roles: profile.roles,
        sessions,
        notes: notes.get(claims.sub) ?? [],
      }),
    );
  });

  app.post('/notes', express.urlencoded({ extended: false, limit: '4kb' }), session, (req, res) => {
    const claims = req.auth;
    if (!claims) return toRefresh(req, res);
    const note = typeof req.body?.note === 'string' ? req.body.note.trim().slice(0, 200) : '';
    if (note) notes.set(claims.sub, [...(notes.get(claims.sub) ?? []), note]);
    // Post/redirect/get: a reload does not post again.
    return res.redirect(303, '/account');
  });

  // A JSON route for scripts and other services: a bearer token works here too (the header wins).
  app.get('/api/me', requireSession(engine, { allowedOrigins }), (req, res) => {
    res.json({ sub: req.auth?.sub, sid: req.auth?.sid });
  });
  return { app, tessera, opened };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port).
 * @example
 * const { url, close } = await start(0, { dataDir: tmp });
 */
export async function start(port = 3000, options: ExampleOptions = {}) {
  const { app, tessera, opened } = await createApp(options);
  return listenExample(app, port, opened, tessera);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Server-rendered app with Tessera at ${url} (open ${url}/account)`);
}
