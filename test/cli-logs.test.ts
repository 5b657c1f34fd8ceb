import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createTestDpopKey, signTestDpopProof } from '@tessera/core/testing';
import { freePort, startChildServer, stopChildServer, TESSERA_BIN } from './helpers/child-server.ts';
import { runOnTerminal, terminalProblem } from './helpers/cli.ts';
import { call, PASSWORD } from './helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-logs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PRETTY_LINE = /^\d\d:\d\d:\d\d\.\d{3} (ERROR|WARN |INFO |DEBUG) \S.*$/;

/**
 * Runs a server with `format` at debug level (every request logged), drives a session through
 * register, refresh, a reuse of the retired refresh token (a warning) and logout, and returns its stderr
 * and every credential it handed out.
 */
async function serverLog(format: 'json' | 'pretty'): Promise<{ stderr: string; credentials: string[] }> {
  const server = await startChildServer({
    TESSERA_PORT: String(await freePort()),
    TESSERA_DATA_DIR: join(dir, format),
    TESSERA_LOG_FORMAT: format,
    TESSERA_LOG_LEVEL: 'debug',
    TESSERA_REUSE_GRACE: '0',
  });
  const credentials: string[] = [];
  try {
    const reg = await call(server.url, 'POST', '/auth/register', {
      json: { email: 'log@example.com', password: PASSWORD },
    });
    assert.equal(reg.status, 201);
    const next = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: reg.body.refresh_token },
    });
    assert.equal(next.status, 200);
    const reuse = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: reg.body.refresh_token },
    });
    assert.equal(reuse.status, 400);
    const again = await call(server.url, 'POST', '/auth/login', {
      json: { email: 'log@example.com', password: PASSWORD },
    });
    assert.equal((await call(server.url, 'GET', '/auth/me', { token: again.body.access_token })).status, 200);
    await call(server.url, 'POST', '/auth/logout', { json: { refresh_token: again.body.refresh_token } });
    // A DPoP-bound session refreshed without its key: refused and logged as a warning, no proof logged.
    const issuer = (await call(server.url, 'GET', '/.well-known/oauth-authorization-server')).body.issuer;
    const key = await createTestDpopKey();
    const proof = await signTestDpopProof(key, { htm: 'POST', htu: `${new URL(issuer).origin}/auth/login` });
    const bound = await call(server.url, 'POST', '/auth/login', {
      json: { email: 'log@example.com', password: PASSWORD },
      headers: { dpop: proof },
    });
    assert.equal(bound.body.token_type, 'DPoP', bound.text);
    const stolen = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: bound.body.refresh_token },
    });
    assert.equal(stolen.body.error, 'invalid_grant');
    credentials.push(proof, bound.body.access_token, bound.body.refresh_token);
    credentials.push(
      reg.body.access_token,
      reg.body.refresh_token,
      next.body.access_token,
      next.body.refresh_token,
      again.body.access_token,
      again.body.refresh_token,
      PASSWORD,
    );
  } finally {
    await stopChildServer(server, 'SIGTERM');
  }
  // startChildServer gathers both streams; stdout holds only the one "running at" line.
  const lines = server
    .output()
    .split('\n')
    .filter((line) => line && !line.startsWith('Tessera is running at '));
  return { stderr: lines.join('\n'), credentials };
}

describe('logs: one format at a time, never a credential', () => {
  it('JSON lines when asked (and off a terminal): every stderr line is one JSON object', async () => {
    const { stderr, credentials } = await serverLog('json');
    const entries = stderr.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(entries.length >= 6, stderr);
    for (const entry of entries) {
      assert.ok(['error', 'warn', 'info', 'debug'].includes(entry.level as string));
      assert.equal(typeof entry.time, 'number');
      assert.equal(typeof entry.msg, 'string');
    }
    assert.ok(entries.some((e) => e.msg === 'request' && e.route === '/auth/refresh' && e.status === 400));
    assert.ok(entries.some((e) => /Generated a new secret/.test(e.msg as string)));
    assert.ok(entries.some((e) => /reuse detected/.test(e.msg as string) && typeof e.sessionId === 'string'));
    assert.ok(entries.some((e) => /DPoP-bound session/.test(e.msg as string) && e.proof === 'missing_proof'));
    for (const credential of credentials) assert.ok(!stderr.includes(credential), 'a credential was logged');
  });

  it('pretty lines when asked: time, level, message, fields; no JSON', async () => {
    const { stderr, credentials } = await serverLog('pretty');
    const lines = stderr.split('\n');
    for (const line of lines) {
      assert.match(line, PRETTY_LINE);
      assert.doesNotMatch(line, /^\{/);
    }
    assert.ok(
      lines.some((line) => /DEBUG request .*route=\/auth\/refresh status=400/.test(line)),
      stderr,
    );
    assert.ok(
      lines.some((line) => /WARN {2}refresh token reuse detected; session revoked sessionId=\S+/.test(line)),
    );
    assert.ok(
      lines.some((line) => /WARN {2}DPoP-bound session presented without its key/.test(line)),
      stderr,
    );
    for (const credential of credentials) assert.ok(!stderr.includes(credential), 'a credential was logged');
  });

  it('auto: JSON when stderr is not a terminal, pretty on a terminal', async (t) => {
    const file = join(dir, 'in-the-way');
    writeFileSync(file, '');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TESSERA_DATA_DIR: join(file, 'data'),
      TESSERA_PORT: '0',
    };
    delete env.TESSERA_LOG_FORMAT;
    const piped = await promisify(execFile)(
      process.execPath,
      ['--conditions=@tessera/source', TESSERA_BIN, 'start'],
      {
        env,
      },
    ).catch((error: { stderr: string }) => error);
    assert.doesNotThrow(() => JSON.parse(piped.stderr.trim()), piped.stderr);
    const problem = terminalProblem();
    if (problem) {
      t.skip(problem);
      return;
    }
    const onTerminal = await runOnTerminal(['start'], { ...env, NO_COLOR: '1' });
    assert.equal(onTerminal.code, 78);
    const line = onTerminal.output.trim();
    assert.match(line, PRETTY_LINE);
    assert.match(line, /ERROR Tessera could not start: TESSERA_DATA_DIR: cannot create the directory/);
  });
});
