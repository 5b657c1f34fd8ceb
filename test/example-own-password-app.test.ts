import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { start } from '../examples/own-password-app/server.ts';
import { call, PASSWORD, TEST_ARGON2 } from './helpers/server.ts';

let app: Awaited<ReturnType<typeof start>>;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-own-password-'));
  app = await start(0, {
    dataDir: dir,
    issuer: 'http://127.0.0.1:3000',
    argon2: TEST_ARGON2,
    rateLimits: false,
    hashCost: { memoryCost: 1024, timeCost: 1 },
  });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const APP_UA = 'OrdersApp/2.1 (Android 14)';

describe('example: an app with its own password table, Tessera for sessions', () => {
  it('signs up and logs in with its own argon2id hashes; Tessera holds no password', async () => {
    const signup = await call(app.url, 'POST', '/signup', {
      json: { email: 'Lin@Example.com', password: PASSWORD, device_name: 'Lin’s phone' },
      headers: { 'user-agent': APP_UA },
    });
    assert.equal(signup.status, 201, signup.text);
    assert.match(signup.body.refresh_token, /^tsr_/);
    const claims = JSON.parse(Buffer.from(signup.body.access_token.split('.')[1], 'base64url').toString());
    assert.deepEqual(claims.amr, ['pwd']);
    const user = await app.engine.getUser(claims.sub);
    assert.equal(user.email, 'lin@example.com');
    // The hash is in the app's own table, and only there.
    const db = new DatabaseSync(join(dir, 'own-password-accounts.db'));
    const row = db
      .prepare('SELECT password_hash, tessera_user_id FROM accounts WHERE email = ?')
      .get('lin@example.com') as {
      password_hash: string;
      tessera_user_id: string;
    };
    db.close();
    assert.match(row.password_hash, /^\$argon2id\$/);
    assert.equal(row.tessera_user_id, user.id);
    const login = await call(app.url, 'POST', '/auth/login', {
      json: { email: 'lin@example.com', password: PASSWORD },
    });
    assert.equal(login.status, 404, 'Tessera’s own login is under /api and knows no password for this user');
    const tesseraLogin = await call(app.url, 'POST', '/api/auth/login', {
      json: { email: 'lin@example.com', password: PASSWORD },
    });
    assert.equal(tesseraLogin.body.error, 'invalid_credentials');

    for (const [email, password] of [
      ['lin@example.com', 'wrong password!'],
      ['nobody@example.com', PASSWORD],
    ]) {
      const refused = await call(app.url, 'POST', '/login', { json: { email, password } });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, 'invalid_credentials');
    }
    const taken = await call(app.url, 'POST', '/signup', {
      json: { email: 'lin@example.com', password: PASSWORD },
    });
    assert.equal(taken.status, 409);
  });

  it('starts a session that refreshes, rotates, is listed with its device and revoked like any other', async () => {
    const login = await call(app.url, 'POST', '/login', {
      json: { email: 'lin@example.com', password: PASSWORD, device_name: 'Work laptop' },
      headers: { 'user-agent': APP_UA },
    });
    assert.equal(login.status, 200, login.text);
    const orders = await call(app.url, 'GET', '/api/orders', { token: login.body.access_token });
    assert.equal(orders.status, 200);

    const refreshed = await call(app.url, 'POST', '/api/auth/refresh', {
      json: { refresh_token: login.body.refresh_token },
      headers: { 'user-agent': APP_UA },
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(refreshed.body.session_id, login.body.session_id);
    assert.notEqual(refreshed.body.refresh_token, login.body.refresh_token);
    const sessions = await call(app.url, 'GET', '/api/auth/sessions', { token: refreshed.body.access_token });
    const mine = sessions.body.sessions.find((s: { current: boolean }) => s.current);
    assert.equal(mine.device_name, 'Work laptop');
    assert.equal(mine.user_agent, APP_UA);
    assert.equal(sessions.body.sessions.length, 2, 'the signup session and this one');

    const other = sessions.body.sessions.find((s: { current: boolean }) => !s.current);
    const ended = await call(app.url, 'DELETE', `/api/auth/sessions/${other.id}`, {
      token: refreshed.body.access_token,
    });
    assert.equal(ended.status, 204);
    const logout = await call(app.url, 'POST', '/api/auth/logout', {
      json: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(logout.status, 204);
    const after = await call(app.url, 'POST', '/api/auth/refresh', {
      json: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(after.body.error, 'invalid_grant');
    assert.equal(
      (await call(app.url, 'GET', '/api/orders', { token: refreshed.body.access_token })).status,
      401,
    );
  });

  it('uses the refresh cookie for a browser on the app’s origin', async () => {
    const login = await call(app.url, 'POST', '/login', {
      json: { email: 'lin@example.com', password: PASSWORD },
      headers: { origin: 'http://127.0.0.1:3000' },
    });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.body.refresh_token, undefined);
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(
      cookie,
      /^tessera_refresh=tsr_[^;]+; Max-Age=\d+; Path=\/api\/auth; HttpOnly; Secure; SameSite=Strict/,
    );
    const refreshed = await call(app.url, 'POST', '/api/auth/refresh', {
      headers: {
        origin: 'http://127.0.0.1:3000',
        'tessera-transport': 'cookie',
        cookie: cookie.split(';')[0] as string,
      },
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    const foreign = await call(app.url, 'POST', '/login', {
      json: { email: 'lin@example.com', password: PASSWORD },
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error, 'forbidden_origin');
  });
});
