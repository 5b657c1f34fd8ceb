import { readFileSync } from 'node:fs';
import type { Route } from '@tessera/server';

const DEMO_DIR = new URL('../../public/', import.meta.url);
const FILES: ReadonlyArray<[string, string, string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/demo.js', 'demo.js', 'text/javascript; charset=utf-8'],
  ['/demo.css', 'demo.css', 'text/css; charset=utf-8'],
  // @tessera/client's browser build (packages/client: npm run build:browser).
  ['/tessera-client.js', 'tessera-client.js', 'text/javascript; charset=utf-8'],
];
const DEMO_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The demo page at `/` (a static page that drives the API with cookie transport). */
export function demoRoutes(): Route[] {
  return FILES.map(([path, file, type]) => {
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
}
