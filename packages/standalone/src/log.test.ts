import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, redactText } from './log.ts';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
const JWT =
  'eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhYmMiLCJleHAiOjF9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const REFRESH = 'tsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const log = createLogger({ now: () => AT, ...options, write: (line) => lines.push(line) });
  return { log, lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line off a terminal', () => {
    const { log, lines } = capture({ level: 'debug' });
    assert.equal(log.format, 'json');
    log.info('listening', { port: 4000, host: '127.0.0.1' });
    log.debug('request', { route: '/auth/refresh', status: 200 });
    assert.equal(lines.length, 2);
    for (const line of lines) assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
    assert.deepEqual(JSON.parse(lines[0] as string), {
      level: 'info',
      time: AT,
      msg: 'listening',
      port: 4000,
      host: '127.0.0.1',
    });
  });

  it('writes human lines on a terminal: time, level, message, fields', () => {
    const { log, lines } = capture({ isTTY: true, color: false });
    assert.equal(log.format, 'pretty');
    log.warn('Generated a new secret', { path: '/var/lib/tessera/secret', note: 'keep it safe', n: 2 });
    const time = new Date(AT);
    const hh = String(time.getHours()).padStart(2, '0');
    assert.equal(
      lines[0],
      `${hh}:04:05.006 WARN  Generated a new secret path=/var/lib/tessera/secret note="keep it safe" n=2\n`,
    );
  });

  it('colours only the level, and only when asked', () => {
    const { log, lines } = capture({ format: 'pretty', color: true });
    log.error('boom');
    assert.ok((lines[0] ?? '').endsWith('\u001b[31mERROR\u001b[0m boom\n'), lines[0]);
    const plain = capture({ format: 'pretty' });
    plain.log.error('boom');
    assert.ok(!(plain.lines[0] ?? '').includes('\u001b'));
  });

  it('the format setting overrides the terminal check', () => {
    assert.equal(capture({ isTTY: true, format: 'json' }).log.format, 'json');
    assert.equal(capture({ isTTY: false, format: 'pretty' }).log.format, 'pretty');
    assert.equal(capture({ isTTY: true, format: 'auto' }).log.format, 'pretty');
  });

  it('drops entries below the level; silent writes nothing', () => {
    const { log, lines } = capture({ level: 'warn' });
    log.info('no');
    log.debug('no');
    log.warn('yes');
    log.error('yes');
    assert.equal(lines.length, 2);
    assert.equal(log.enabled('info'), false);
    assert.equal(log.enabled('error'), true);
    const silent = capture({ level: 'silent' });
    silent.log.error('no');
    assert.deepEqual(silent.lines, []);
  });

  it('never writes a token or a secret, in either format', () => {
    for (const format of ['json', 'pretty'] as const) {
      const { log, lines } = capture({ format });
      log.warn(`presented ${REFRESH} with Bearer ${JWT}`, {
        refreshToken: REFRESH,
        access_token: JWT,
        secret: 'hunter2hunter2',
        password: 'correct horse',
        authorization: `Bearer ${JWT}`,
        cookie: `tessera_refresh=${REFRESH}`,
        nested: { serviceToken: 'a'.repeat(40), list: [JWT] },
        detail: `header was ${JWT}`,
        tokenVersion: 3,
      });
      const text = lines.join('');
      for (const leaked of [REFRESH, JWT, 'hunter2hunter2', 'correct horse', 'a'.repeat(40)]) {
        assert.ok(!text.includes(leaked), `${format}: ${leaked} leaked in ${text}`);
      }
      assert.match(text, /tokenVersion.{1,3}3/, 'fields that only sound like a credential stay');
    }
  });
});

describe('redactText', () => {
  it('masks refresh tokens, JWTs and bearer credentials, and leaves other text alone', () => {
    assert.equal(redactText(`a ${REFRESH} b`), 'a tsr_[redacted] b');
    assert.equal(redactText(`jwt ${JWT}.`), 'jwt [redacted jwt].');
    assert.equal(redactText('Authorization: DPoP abcdefghijklmnop'), 'Authorization: DPoP [redacted]');
    assert.equal(redactText('session KNdUDbz55VnINRL8fjRntQ ended'), 'session KNdUDbz55VnINRL8fjRntQ ended');
  });
});
