// The app's one Tessera engine, its handler and its session guard, opened on first use. Kept on
// globalThis: Next bundles each route separately and the dev server evaluates modules again on every
// edit, so a module-level variable alone would open one engine per route and per reload.
import { type Engine, parseDurationSeconds, type Store } from '@tessera/core';
import { createHandler, type TesseraHandler } from '@tessera/server';
import { requireSession, type SessionAuth } from '@tessera/server/next';
import { openExampleEngine } from '../../engine.ts';

/** Where Tessera's routes are mounted: `app/api/[...tessera]/route.ts`. */
export const PREFIX = '/api';

/** The app's Tessera: the engine, the handler behind `/api/*`, and the guard of its own routes. */
export interface Tessera {
  engine: Engine;
  store: Store;
  handler: TesseraHandler;
  /** `requireSession`'s web core: the session of a request's bearer token, or the RFC 6750 refusal. */
  session(request: Request): Promise<SessionAuth | Response>;
}

function seconds(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined) return undefined;
  const value = parseDurationSeconds(text);
  if (value === undefined) throw new TypeError(`${name}: a duration such as 10m, 3s or 600.`);
  return value;
}

async function open(): Promise<Tessera> {
  // The SQLite file and secret in TESSERA_EXAMPLE_DIR (default ./.tessera-example), the issuer from
  // TESSERA_ISSUER (default http://127.0.0.1:$PORT), and the sweeper of ended sessions: examples/engine.ts.
  const accessTtlSeconds = seconds('TESSERA_ACCESS_TTL');
  const { engine, store } = await openExampleEngine('next', {
    ...(accessTtlSeconds === undefined ? {} : { accessTtlSeconds }),
    ...(process.env.TESSERA_RATE_LIMIT === 'off' ? { rateLimits: false } : {}),
  });
  const handler = createHandler({
    engine,
    prefix: PREFIX,
    // Next hides the socket peer, so no caller is known to be on loopback: service routes need the token.
    serviceToken: process.env.TESSERA_SERVICE_TOKEN ?? null,
    cookieSecure: process.env.TESSERA_COOKIE_SECURE !== 'false',
  });
  // On SIGTERM and SIGINT Next stops listening and waits for open responses: end the revocation
  // streams, which would hold it open. (With NEXT_MANUAL_SIG_HANDLE the app owns its signals.)
  if (!process.env.NEXT_MANUAL_SIG_HANDLE) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => handler.close());
  }
  return { engine, store, handler, session: requireSession(engine) };
}

const shared = globalThis as typeof globalThis & { tessera?: Promise<Tessera> };

/**
 * The app's Tessera, opened on the first call (never at import: `next build` imports every route).
 * A failed open is not kept, so the next request tries again.
 */
export function tessera(): Promise<Tessera> {
  shared.tessera ??= open().catch((error: unknown) => {
    delete shared.tessera;
    throw error;
  });
  return shared.tessera;
}
