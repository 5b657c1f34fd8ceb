import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_STATUS } from './errors.ts';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, number>(
    // "400 / 401": the table's status, then the one bearer routes answer (RFC 6750 §3.1).
    [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3})(?: \/ \d{3})? \|/gm)].map((match) => [
      match[1] as string,
      Number(match[2]),
    ]),
  );

  it('lists every error code with the status the server answers', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      assert.equal(rows.get(code), status, `docs/errors.md: the row of ${code}`);
    }
  });

  it('lists no code the engine does not have', () => {
    for (const code of rows.keys()) assert.ok(code in ERROR_STATUS, `docs/errors.md lists ${code}`);
  });
});
