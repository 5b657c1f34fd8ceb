// The "ceiling": refresh-token rotation hand-written with no framework — node:http, node:sqlite in
// WAL mode (synchronous=FULL, like Tessera) and one Ed25519 signature per request — to show what this
// machine can do at all. Same JSON shapes as Tessera's /auth/register and /auth/refresh, so the same
// load generator drives both. Not a product: no validation beyond what the benchmark needs.
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { DatabaseSync } from 'node:sqlite';

const db = new DatabaseSync(process.argv[2] ?? ':memory:');
db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
  CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, generation INTEGER NOT NULL, rotated_at INTEGER NOT NULL)`);
const insert = db.prepare('INSERT INTO sessions (id, user_id, generation, rotated_at) VALUES (?, ?, 1, ?)');
const find = db.prepare('SELECT user_id, generation FROM sessions WHERE id = ?');
const rotate = db.prepare(
  'UPDATE sessions SET generation = generation + 1, rotated_at = ? WHERE id = ? AND generation = ?',
);
const macKey = randomBytes(32);
const { privateKey } = generateKeyPairSync('ed25519');
const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ceiling' })).toString(
  'base64url',
);

const mac = (id: string, generation: number) =>
  createHmac('sha256', macKey).update(`${id}.${generation}`).digest('base64url');
const refreshToken = (id: string, generation: number) => `tsr_${id}.${generation}.${mac(id, generation)}`;

function accessToken(sub: string, sid: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({
      iss: 'ceiling',
      sub,
      aud: 'ceiling',
      iat: now,
      exp: now + 600,
      jti: randomBytes(16).toString('base64url'),
      sid,
    }),
  ).toString('base64url');
  const input = `${header}.${payload}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

function reply(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { refresh_token?: string };
    if (req.url === '/auth/register') {
      const id = randomBytes(16).toString('base64url');
      const user = randomBytes(16).toString('base64url');
      insert.run(id, user, Date.now());
      return reply(res, 201, {
        token_type: 'Bearer',
        access_token: accessToken(user, id),
        expires_in: 600,
        refresh_token: refreshToken(id, 1),
        session_id: id,
      });
    }
    if (req.url === '/auth/refresh') {
      const [id = '', gen = '', given = ''] = (body.refresh_token ?? '').slice(4).split('.');
      const generation = Number(gen);
      if (mac(id, generation) !== given) return reply(res, 400, { error: 'invalid_grant' });
      const row = find.get(id) as { user_id: string; generation: number } | undefined;
      if (!row || row.generation !== generation) return reply(res, 400, { error: 'invalid_grant' });
      if (rotate.run(Date.now(), id, generation).changes !== 1)
        return reply(res, 400, { error: 'invalid_grant' });
      return reply(res, 200, {
        token_type: 'Bearer',
        access_token: accessToken(row.user_id, id),
        expires_in: 600,
        refresh_token: refreshToken(id, generation + 1),
        session_id: id,
      });
    }
    reply(res, 404, { error: 'not_found' });
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`Tessera is running at http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
