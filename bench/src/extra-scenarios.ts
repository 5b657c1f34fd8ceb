import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';

/** Resident memory of a process in MiB (Linux /proc), or NaN where unavailable. */
export function residentMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kib / 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Fills the SQLite file of a running single-instance cluster with `count` extra live sessions (one
 * user), straight through SQL in one transaction, so refresh can be measured against a big table.
 */
export function seedSessions(dbPath: string, count: number): void {
  const db = new DatabaseSync(dbPath, { timeout: 10_000 });
  const now = Date.now();
  const userId = randomBytes(16).toString('base64url');
  db.exec('BEGIN IMMEDIATE');
  db.prepare(
    `INSERT INTO users (id, email, password_hash, token_version, roles, profile, disabled, reauth_required, totp_secret, created_at, updated_at)
     VALUES (?, ?, 'x', 1, '[]', '{}', 0, 0, NULL, ?, ?)`,
  ).run(userId, `seed-${userId}@example.com`, now, now);
  const insert = db.prepare(
    `INSERT INTO sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at, absolute_expires_at,
       ip, user_agent, device_name, amr, generation, rotated_at, salt, revoked_at, revoke_reason)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, '["pwd"]', 1, ?, ?, NULL, NULL)`,
  );
  for (let i = 0; i < count; i += 1) {
    const id = randomBytes(16).toString('base64url');
    insert.run(
      id,
      userId,
      now,
      now,
      now,
      now + 86_400_000,
      now + 86_400_000,
      now,
      randomBytes(16).toString('base64url'),
    );
  }
  db.exec('COMMIT');
  db.close();
}
