// "Sign in with an OpenID provider": an Express app that runs the authorization code flow with
// openid-client (PKCE, state, nonce), then hands the provider's ID token to Tessera's
// `POST /api/auth/login/external` from the browser. Tessera checks the token again (signature with the
// provider's published keys, issuer, audience, expiry, nonce), maps the provider's `sub` to one user
// (created at the first sign-in) and sets its refresh cookie, as a login does.
// Run (a provider and a client registered there first):
//   OIDC_ISSUER=https://accounts.example.com OIDC_CLIENT_ID=… OIDC_CLIENT_SECRET=… \
//   npm exec -- node --conditions=@tessera/source examples/oidc-app/server.ts
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { requireSession, tesseraRoutes } from '@tessera/server/express';
import express from 'express';
import * as oidc from 'openid-client';
import { type ExampleOptions, exampleIssuer, listenExample, openExampleEngine } from '../engine.ts';

/** The app's registration at its OpenID provider. */
export interface ProviderRegistration {
  /** The provider's issuer (its discovery document is at `<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** Options of the example: the usual ones plus the provider (default from OIDC_* variables). */
export interface OidcAppOptions extends ExampleOptions {
  provider?: ProviderRegistration;
}

const FLOW_TTL_MS = 10 * 60_000;
const FLOW_COOKIE = 'oidc_flow';

/** Pending sign-ins by `state`: the PKCE verifier and nonce they need back, each usable once. */
function createFlows() {
  const flows = new Map<string, { verifier: string; nonce: string; expiresAtMs: number }>();
  return {
    open(verifier: string, nonce: string): string {
      const state = oidc.randomState();
      flows.set(state, { verifier, nonce, expiresAtMs: Date.now() + FLOW_TTL_MS });
      return state;
    },
    take(state: string) {
      const flow = flows.get(state);
      flows.delete(state);
      return flow && flow.expiresAtMs > Date.now() ? flow : null;
    },
  };
}

/** JSON safe inside a `<script>` element (no `</script>`, no HTML comment openers). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

function providerFromEnv(): ProviderRegistration {
  const { OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET } = process.env;
  if (!OIDC_ISSUER || !OIDC_CLIENT_ID || !OIDC_CLIENT_SECRET) {
    throw new Error(
      'Set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (the app’s registration at the provider).',
    );
  }
  return { issuer: OIDC_ISSUER, clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET };
}

/**
 * Builds the app: the page at `/`, `GET /login` (to the provider), `GET /callback` (back from it),
 * Tessera under `/api` trusting the provider's ID tokens for this client id, and `GET /api/orders`
 * behind `requireSession`.
 * @example
 * const { app, tessera, opened } = await createApp({ provider: { issuer, clientId, clientSecret } });
 */
export async function createApp(options: OidcAppOptions = {}) {
  const provider = options.provider ?? providerFromEnv();
  const issuer = exampleIssuer(options);
  const opened = await openExampleEngine('oidc-app', {
    ...options,
    // Tessera accepts ID tokens of this provider issued to this app (aud = the client id), and no other.
    trustedIssuers: [{ issuer: provider.issuer, audience: provider.clientId }],
  });
  const { engine } = opened;
  const callbackUrl = `${issuer}/callback`;
  const page = readFileSync(join(dirname(new URL(import.meta.url).pathname), 'page.html'), 'utf8');
  const flows = createFlows();
  // Discovered at the first sign-in, so the app starts while the provider is still coming up.
  let discovered: Promise<oidc.Configuration> | null = null;
  const configuration = () => {
    discovered ??= oidc
      .discovery(
        new URL(provider.issuer),
        provider.clientId,
        provider.clientSecret,
        undefined,
        new URL(provider.issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
      )
      .catch((error: unknown) => {
        discovered = null;
        throw error;
      });
    return discovered;
  };

  const app = express();
  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);

  const render = (exchange: { subject_token: string; nonce: string } | null) =>
    page.replace('/*EXCHANGE*/null', scriptJson(exchange));

  app.get('/', (_req, res) => {
    res.type('html').send(render(null));
  });

  app.get('/login', async (_req, res) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = flows.open(verifier, nonce);
    const url = oidc.buildAuthorizationUrl(await configuration(), {
      redirect_uri: callbackUrl,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    // The state comes back in the URL; the cookie proves it comes back to the browser that left.
    res.cookie(FLOW_COOKIE, state, {
      httpOnly: true,
      sameSite: 'lax',
      path: '/callback',
      maxAge: FLOW_TTL_MS,
    });
    res.redirect(url.href);
  });

  app.get('/callback', async (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const cookieState = /(?:^|;\s*)oidc_flow=([^;]+)/.exec(req.get('cookie') ?? '')?.[1];
    const flow = state && state === cookieState ? flows.take(state) : null;
    res.clearCookie(FLOW_COOKIE, { path: '/callback' });
    if (!flow) {
      res.status(400).type('text').send('This sign-in expired or did not start here; start again.');
      return;
    }
    try {
      const tokens = await oidc.authorizationCodeGrant(
        await configuration(),
        new URL(req.originalUrl, issuer),
        {
          pkceCodeVerifier: flow.verifier,
          expectedState: state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        },
      );
      // The page posts the ID token (and its nonce) to Tessera, which checks it again and answers with
      // its refresh cookie: the browser never holds a long-lived secret.
      res.type('html').send(render({ subject_token: tokens.id_token as string, nonce: flow.nonce }));
    } catch {
      res.status(400).type('text').send('The provider’s answer could not be verified; start again.');
    }
  });

  app.get('/api/orders', requireSession(engine), (req, res) => {
    res.json({ orders: [{ id: 1, item: 'tea' }], for: req.auth?.sub, amr: req.auth?.amr });
  });

  return { app, tessera, opened };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port).
 * @example
 * const { url, close } = await start(3000, { issuer: 'http://127.0.0.1:3000', provider });
 */
export async function start(port = 3000, options: OidcAppOptions = {}) {
  const { app, tessera, opened } = await createApp(options);
  return listenExample(app, port, opened, tessera);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`OIDC sign-in with Tessera sessions at ${url}/ (register ${url}/callback at the provider)`);
}
