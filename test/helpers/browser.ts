import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { freePort } from './child-server.ts';
import { startTestServer, type TestServer } from './server.ts';
import { skipReason } from './services.ts';

/** Debian's Chromium, driven by playwright-core (never a downloaded browser). */
export const CHROMIUM = '/usr/bin/chromium';

/** Why browser tests cannot run here (a skip outside CI, a failure under CI=true), or false. */
export function browserSkip(): string | false {
  return skipReason(
    existsSync(CHROMIUM) ? null : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`,
  );
}

/** Launches headless Chromium with the flags this machine needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * A demo-serving test server on the wall clock (the page's timers are real) with short access tokens
 * (three seconds by default), on a known port so its issuer's origin is the page's origin.
 */
export async function startBrowserTestServer(accessTtl = '3s'): Promise<TestServer> {
  const port = await freePort();
  return startTestServer(
    { TESSERA_ACCESS_TTL: accessTtl, TESSERA_PORT: String(port), TESSERA_ISSUER: `http://127.0.0.1:${port}` },
    { demo: true, realClock: true },
  );
}
