import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import type { ExampleOptions } from '../examples/engine.ts';
import { build } from '../scripts/build.ts';
import { browserSkip, launchChromium } from './helpers/browser.ts';
import { freePort, waitForOutput } from './helpers/child-server.ts';
import { mountContract } from './helpers/mount-contract.ts';
import { PASSWORD } from './helpers/server.ts';

// The Next.js example (examples/next-app) built with `next build` and run with `next start`, as an app
// that installed the @tessera packages would: it consumes their built JavaScript (`npm run build`), with
// the engine loaded by Node at run time. The build is kept in the example's `.next` and skipped while
// a hash of its inputs is unchanged.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APP = join(ROOT, 'examples/next-app');
const NEXT_BIN = join(ROOT, 'node_modules/next/dist/bin/next');
const STAMP = join(APP, '.next/tessera-inputs.sha256');
const SERVICE_TOKEN = 'next-example-service-token-0123456789';
// What the built app contains: its own sources and the packages it bundles or loads.
const INPUTS = [
  'examples/next-app',
  'examples/engine.ts',
  'packages/client/src',
  'packages/core/src',
  'packages/protocol/src',
  'packages/server/src',
  'package-lock.json',
];
const SKIPPED = /(^|\/)(\.next|\.tessera-example|node_modules)(\/|$)|next-env\.d\.ts$|\.test\.ts$/;

function inputsHash(): string {
  const hash = createHash('sha256');
  for (const input of INPUTS) {
    const path = join(ROOT, input);
    const files = statSync(path).isDirectory()
      ? readdirSync(path, { recursive: true, encoding: 'utf8' }).map((name) => join(path, name))
      : [path];
    for (const file of files.sort()) {
      const name = relative(ROOT, file);
      if (SKIPPED.test(name) || !statSync(file).isFile()) continue;
      hash.update(`${name}\0`).update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

const nextEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
let built: Promise<void> | null = null;

/** Builds the packages' JavaScript (incremental) and the app (unless its inputs are unchanged). */
function ensureBuilt(): Promise<void> {
  built ??= (async () => {
    const started = performance.now();
    // The packages' built JavaScript, as an installed app gets it: `npm test` builds every dist/ first
    // (`npm run build`); run alone, this builds what is missing.
    const dirs = ['core', 'protocol', 'server', 'client'].map((name) => join(ROOT, 'packages', name));
    if (dirs.some((dir) => !existsSync(join(dir, 'dist')))) build(dirs);
    const hash = inputsHash();
    const cached =
      existsSync(join(APP, '.next/BUILD_ID')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash;
    if (!cached) {
      try {
        execFileSync(process.execPath, [NEXT_BIN, 'build', APP], { cwd: ROOT, env: nextEnv, stdio: 'pipe' });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
        throw new Error(`next build failed:\n${stdout ?? ''}${stderr ?? ''}`);
      }
      writeFileSync(STAMP, hash);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(`# next-app: ${cached ? 'build unchanged, reused' : 'built'} in ${seconds} s\n`);
  })();
  return built;
}

/** A `next start` process of the example. */
interface NextServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the built example with `next start` on `port` (0: a free one) in its own data directory.
 * `close()` sends SIGTERM: Next waits for open responses, and the app ends its revocation streams.
 */
async function startNext(
  port: number,
  options: ExampleOptions & { env?: Record<string, string> } = {},
): Promise<NextServer> {
  await ensureBuilt();
  const listen = port || (await freePort());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tessera-next-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [NEXT_BIN, 'start', APP, '--port', String(listen), '--hostname', '127.0.0.1'],
    {
      cwd: ROOT,
      env: {
        ...nextEnv,
        TESSERA_EXAMPLE_DIR: dataDir,
        TESSERA_ISSUER: options.issuer ?? `http://127.0.0.1:${listen}`,
        TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
        ...(options.rateLimits === false ? { TESSERA_RATE_LIMIT: 'off' } : {}),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await waitForOutput(child, /Ready in/, 30_000, 'next start');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${listen}`,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// The contract every host passes, against the running Next.js app (its service routes need the token:
// Next hides the socket peer, so no caller is trusted for being on loopback).
mountContract('next', startNext, { serviceToken: SERVICE_TOKEN });

const skip = browserSkip();

describe('Next.js example in Chromium', { skip }, () => {
  let app: NextServer;
  let browser: Browser;
  before(async () => {
    // Three-second access tokens: the page renews about every 2.4 s, on the page's real timers.
    app = await startNext(0, { env: { TESSERA_ACCESS_TTL: '3s' } });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('signs in, renews across several token lifetimes, calls the route handler and the server component, logs out', async () => {
    const started = performance.now();
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const refreshes: number[] = [];
    const bearers = new Set<string>();
    const setCookies: string[] = [];
    page.on('request', (request) => {
      const authorization = request.headers().authorization;
      if (request.url().endsWith('/api/orders') && authorization) bearers.add(authorization);
    });
    page.on('response', async (response) => {
      if (response.url().endsWith('/api/auth/refresh')) refreshes.push(response.status());
      const cookie = await response.headerValue('set-cookie');
      if (cookie?.includes('tessera_refresh=')) setCookies.push(cookie);
    });

    await page.goto(`${app.url}/`);
    await page.waitForSelector('#status[data-view="signed-out"]');
    const email = `next${Date.now()}@example.com`;
    await page.fill('#sign-in input[name=email]', email);
    await page.fill('#sign-in input[name=password]', PASSWORD);
    await page.click('#sign-in button[value=register]');
    await page.waitForSelector('#status[data-view="signed-in"]');
    // The page's resume() at load found no session (400); count the refreshes of this one.
    refreshes.length = 0;

    // The refresh token: an HttpOnly, Secure, SameSite=Strict cookie scoped to /api/auth, unseen by script.
    assert.equal(await page.evaluate(() => document.cookie), '');
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'tessera_refresh');
    assert.ok(cookie, 'the refresh cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/api/auth');
    assert.match(cookie.value, /^tsr_/);
    assert.ok(cookie.expires > Date.now() / 1000 + 13 * 86400, 'lives as long as the idle timeout (14 days)');
    assert.match(setCookies[0] ?? '', /; Max-Age=\d+/);

    // Silent renewals on the page's own timers, across at least three lifetimes of three seconds.
    const callOrders = async () => {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/orders')),
        page.click('#call-orders'),
      ]);
      return { status: response.status(), body: (await response.json()) as { orders: { for: string }[] } };
    };
    const first = await callOrders();
    assert.equal(first.status, 200);
    assert.equal(first.body.orders[0]?.for, email);
    await page.waitForFunction(
      () => Number(document.querySelector('#renewals')?.textContent) >= 4,
      undefined,
      {
        timeout: 30_000,
      },
    );
    assert.ok(
      refreshes.length >= 4 && refreshes.every((status) => status === 200),
      `refreshes: ${refreshes}`,
    );
    assert.ok(setCookies.length >= 5, 'every refresh rotates the cookie');
    const second = await callOrders();
    assert.equal(second.status, 200);
    assert.equal(bearers.size, 2, 'the second call carried a renewed access token');

    // The server component reads the session from the token the client's fetch carries.
    await page.click('#load-account');
    await page.waitForFunction(() => document.querySelector('#account-result')?.textContent !== '');
    assert.equal(await page.textContent('#account-result'), `200 ${email}`);
    // A plain navigation carries no token: the page renders its signed-out view.
    const plain = await context.newPage();
    await plain.goto(`${app.url}/account`);
    assert.equal(await plain.getAttribute('#account-status', 'data-status'), '401');
    await plain.close();

    // Logout ends the session: the cookie is cleared, the last access token is refused, no resume.
    const lastBearer = [...bearers].at(-1) as string;
    await page.click('#logout');
    await page.waitForSelector('#status[data-view="signed-out"]');
    assert.deepEqual(
      (await context.cookies()).filter((c) => c.name === 'tessera_refresh'),
      [],
      'the refresh cookie is cleared',
    );
    const refused = await fetch(`${app.url}/api/orders`, { headers: { authorization: lastBearer } });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    await page.reload();
    await page.waitForSelector('#status[data-view="signed-out"]');
    assert.deepEqual(errors, []);
    await context.close();
    process.stdout.write(`# next-app browser flow: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  });
});
