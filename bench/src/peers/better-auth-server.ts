// Better Auth, as published, in its own process for the benchmark (started by ./better-auth.ts).
// Usage: node --conditions=@tessera/source better-auth-server.ts <sqlite file>; env PORT (default: any free
// port) and EXTEND_EVERY_READ=1. Settings, each chosen so the comparison with Tessera is fair:
// - SQLite through Node's built-in `node:sqlite` (Better Auth's Kysely adapter detects DatabaseSync),
//   with Tessera's PRAGMAs: WAL journal, synchronous=FULL (same durability), foreign keys on. The
//   schema comes from Better Auth's own migrations.
// - Passwords: argon2id at Tessera's OWASP parameters (19456 KiB, t=2, p=1) through @node-rs/argon2,
//   off the event loop, instead of Better Auth's default scrypt, so logins cost the same hash.
// - Sessions: default lifetime (7 days) and no cookie cache (the default), so every session read hits
//   the database. EXTEND_EVERY_READ=1 sets updateAge to 0: every read also extends the session (a
//   write), like a sliding session; otherwise the default updateAge (1 day) keeps reads pure reads.
// - The JWT plugin with its defaults (Ed25519 keys in its jwks table, 15-minute tokens):
//   `GET /api/auth/token` reads the session and signs a JWT.
// - Rate limiting and telemetry off (Tessera's benchmark runs with its rate limit off too).
// Listens on 127.0.0.1 only and makes no other network traffic.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { jwt } from 'better-auth/plugins/jwt';

// `Algorithm` is an ambient const enum: 2 is Argon2id.
const ARGON2ID = { algorithm: 2 as Algorithm, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
const ONE_DAY = 86_400;

const db = new DatabaseSync(process.argv[2] ?? ':memory:');
db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');

// Bind first so the base URL (the JWT issuer and audience, and the trusted origin) has the real port.
const server = createServer();
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const options = {
  database: db,
  secret: randomBytes(32).toString('base64url'),
  baseURL: url,
  emailAndPassword: {
    enabled: true,
    password: {
      hash: (password: string) => hash(password, ARGON2ID),
      verify: (data: { hash: string; password: string }) => verify(data.hash, data.password),
    },
  },
  session: { updateAge: process.env.EXTEND_EVERY_READ === '1' ? 0 : ONE_DAY },
  plugins: [jwt()],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
};
await (await getMigrations(options)).runMigrations();
server.on('request', toNodeHandler(betterAuth(options)));
process.stdout.write(`better-auth is running at ${url}\n`);

process.on('SIGTERM', () =>
  server.close(() => {
    db.close();
    process.exit(0);
  }),
);
