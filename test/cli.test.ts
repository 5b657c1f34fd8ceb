import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, startChildServer, stopChildServer } from './helpers/child-server.ts';
import { call, PASSWORD } from './helpers/server.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../packages/standalone/src/bin/tessera.ts', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function tessera(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, ['--conditions=@tessera/source', BIN, ...args], {
    env: { ...process.env, TESSERA_DATA_DIR: dataDir, TESSERA_LOG_LEVEL: 'warn', ...env },
  });
}

describe('tessera CLI and first start', () => {
  it('generates and keeps the secret, encrypts signing keys at rest, and serves', async () => {
    const port = await freePort();
    const server = await startChildServer({ TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir });
    try {
      assert.match(server.output(), /Generated a new secret/);
      assert.match(server.output(), new RegExp(`running at http://127\\.0\\.0\\.1:${port}`));
      const secretFile = join(dataDir, 'secret');
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      assert.ok(Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'base64url').length >= 32);
      const reg = await call(server.url, 'POST', '/auth/register', {
        json: { email: 'cli@example.com', password: PASSWORD },
      });
      assert.equal(reg.status, 201);
      const db = new DatabaseSync(join(dataDir, 'tessera.db'), { readOnly: true });
      const rows = db.prepare('SELECT private_jwk_encrypted, public_jwk FROM signing_keys').all() as Array<
        Record<string, string>
      >;
      db.close();
      assert.equal(rows.length, 1);
      const sealed = Buffer.from(rows[0]?.private_jwk_encrypted ?? '', 'base64url').toString('latin1');
      assert.ok(!sealed.includes('"d"'), 'the private key is not stored in clear');
      assert.ok(!(rows[0]?.public_jwk ?? '').includes('"d"'));
    } finally {
      await stopChildServer(server, 'SIGTERM');
    }
    // A second start reuses the secret (no new warning) and the sessions.
    const again = await startChildServer({
      TESSERA_PORT: String(await freePort()),
      TESSERA_DATA_DIR: dataDir,
    });
    try {
      assert.doesNotMatch(again.output(), /Generated a new secret/);
      const login = await call(again.url, 'POST', '/auth/login', {
        json: { email: 'cli@example.com', password: PASSWORD },
      });
      assert.equal(login.status, 200);
    } finally {
      await stopChildServer(again, 'SIGTERM');
    }
  });

  it('rotates keys, lists them, sets roles and revokes everything', async () => {
    const before = await tessera(['keys', 'list']);
    assert.equal(before.stdout.trim().split('\n').length, 1);
    const rotated = await tessera(['keys', 'rotate', '--alg', 'ES256']);
    assert.match(rotated.stdout, /New signing key \S+ \(ES256\)/);
    const listed = (await tessera(['keys', 'list'])).stdout.trim().split('\n');
    assert.equal(listed.length, 2);
    assert.match(listed[0] ?? '', /\tES256\t.*\tsigning$/);
    assert.match(listed[1] ?? '', /\tEdDSA\t.*\tretired /);
    const roles = await tessera(['user', 'roles', 'cli@example.com', 'admin,support']);
    assert.match(roles.stdout, /admin, support; token version 2/);
    const all = await tessera(['revoke-all']);
    assert.match(all.stdout, /Ended 2 sessions/);
    // Admin commands do not rotate keys behind the operator's back.
    assert.match(
      (await tessera(['keys', 'list'])).stdout.trim().split('\n')[0] ?? '',
      /\tES256\t.*\tsigning$/,
    );
    await assert.rejects(tessera(['user', 'roles', 'nobody@example.com', 'x']), /no user with email/);
  });

  it('refuses a bad setting with a message naming it', async () => {
    await assert.rejects(
      tessera(['migrate'], { TESSERA_ACCESS_TTL: 'ten minutes' }),
      (error: { stderr: string; code: number }) => {
        assert.match(
          error.stderr,
          /invalid configuration: TESSERA_ACCESS_TTL: "ten minutes" is not a duration/,
        );
        assert.equal(error.code, 78);
        return true;
      },
    );
    await assert.rejects(tessera(['frobnicate']), /unknown command/);
  });
});
