import { readFileSync } from 'node:fs';
import type { Route } from '@tessera/server';
import type { DemoInbox } from './demo-inbox.ts';
import type { DemoResource } from './demo-resource.ts';

const DEMO_DIR = new URL('../../public/', import.meta.url);
const FILES: ReadonlyArray<[string, string, string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/demo.js', 'demo.js', 'text/javascript; charset=utf-8'],
  ['/demo-account.js', 'demo-account.js', 'text/javascript; charset=utf-8'],
  ['/demo.css', 'demo.css', 'text/css; charset=utf-8'],
  // @tessera/client's browser build (packages/client: npm run build:browser).
  ['/tessera-client.js', 'tessera-client.js', 'text/javascript; charset=utf-8'],
];
const DEMO_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** What the demo page shows besides the Tessera routes: its inbox and its resource service. */
export interface DemoParts {
  /** `GET /demo/inbox` (left out when webhooks go to `TESSERA_WEBHOOK_URL`). */
  inbox?: DemoInbox | null;
  /** `GET /demo/api/resource`. */
  resource?: DemoResource | null;
}

/**
 * The demo page at `/` (a static page that drives the API with cookie transport), plus the routes of
 * the parts given: the webhook inbox and the resource service.
 */
export function demoRoutes(parts: DemoParts = {}): Route[] {
  const files = FILES.map(([path, file, type]) => {
    let cached: string | undefined;
    return {
      method: 'GET',
      path,
      auth: 'none',
      async handle() {
        cached ??= readFileSync(new URL(file, DEMO_DIR), 'utf8');
        return {
          status: 200,
          headers: { 'content-type': type, 'cache-control': 'no-cache', 'content-security-policy': DEMO_CSP },
          body: cached,
        };
      },
    } satisfies Route;
  });
  return [
    ...files,
    ...(parts.inbox ? [parts.inbox.route()] : []),
    ...(parts.resource ? [parts.resource.route()] : []),
  ];
}
