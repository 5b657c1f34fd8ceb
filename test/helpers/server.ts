import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock, type ManualClock, type TesseraEvent } from '@tessera/core';
import { createTesseraServer, resolveConfig, type TesseraServer } from '@tessera/standalone';

/** A standalone server on a loopback port over a fresh SQLite file, with a manual clock. */
export interface TestServer {
  server: TesseraServer;
  url: string;
  clock: ManualClock;
  events: TesseraEvent[];
  dataDir: string;
  /** Closes the server and deletes its data directory. */
  close(): Promise<void>;
}

/** Test-only argon2id parameters (fast); production uses OWASP's. */
export const TEST_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1, insecureForTests: true };

/**
 * Starts a server for a test. `env` adds TESSERA_* settings; rate limits are off unless
 * `TESSERA_RATE_LIMIT` says otherwise. The issuer is fixed so allowed origins are predictable.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { demo?: boolean; realClock?: boolean } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const clock = createManualClock(Date.now());
  const events: TesseraEvent[] = [];
  const config = resolveConfig({
    env: {
      TESSERA_PORT: '0',
      TESSERA_DATA_DIR: dataDir,
      TESSERA_RATE_LIMIT: 'off',
      TESSERA_LOG_LEVEL: 'silent',
      TESSERA_ISSUER: 'http://127.0.0.1:4000',
      ...env,
    },
  });
  const server = await createTesseraServer(config, {
    // Browser tests run real timers in the page, so the server must follow the wall clock too.
    ...(options.realClock ? {} : { clock }),
    argon2: TEST_ARGON2,
    demo: options.demo ?? false,
    processMetrics: false,
    onEvent: (event) => events.push(event),
  });
  const url = await server.listen();
  return {
    server,
    url,
    clock,
    events,
    dataDir,
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The origin the test servers allow (their issuer's). */
export const ALLOWED_ORIGIN = 'http://127.0.0.1:4000';

// biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies loosely and assert on them.
type Json = any;

/** Sends JSON to `url + path` and returns the status, headers and parsed body. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { json?: unknown; body?: string; headers?: Record<string, string>; token?: string } = {},
): Promise<{ status: number; headers: Headers; body: Json; text: string }> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** A password that passes the rules. */
export const PASSWORD = 'correct horse battery staple';

/** Registers a fresh user with body transport; returns the token response. */
export async function registerUser(
  base: string,
  email = `u${Math.random().toString(36).slice(2)}@example.com`,
) {
  const response = await call(base, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${response.text}`);
  return {
    email,
    ...(response.body as {
      access_token: string;
      refresh_token: string;
      session_id: string;
      expires_in: number;
    }),
  };
}
