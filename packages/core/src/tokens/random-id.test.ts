import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBase64url } from './random-id.ts';

test('randomBase64url: the requested number of bytes, base64url, never repeated across pool refills', () => {
  const seen = new Set<string>();
  // 16 bytes each, 1,000 draws: about four refills of the 4 KiB pool, and draws that straddle one.
  for (let i = 0; i < 1000; i += 1) {
    const value = randomBase64url(16);
    assert.match(value, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(Buffer.from(value, 'base64url').length, 16);
    seen.add(value);
  }
  assert.equal(seen.size, 1000);
  // Odd sizes leave remainders the next refill must not reuse.
  for (const bytes of [1, 7, 32, 255, 256]) {
    const values = Array.from({ length: 40 }, () => randomBase64url(bytes));
    for (const value of values) assert.equal(Buffer.from(value, 'base64url').length, bytes);
    if (bytes >= 7) assert.equal(new Set(values).size, values.length);
  }
});

test('randomBase64url: a draw is not the zeros a used or unfilled pool holds', () => {
  const zeros = Buffer.alloc(32).toString('base64url');
  for (let i = 0; i < 300; i += 1) assert.notEqual(randomBase64url(32), zeros);
});

test('randomBase64url: refuses sizes outside 1 to 256', () => {
  for (const bytes of [0, -1, 257, 1.5, Number.NaN]) assert.throws(() => randomBase64url(bytes), RangeError);
});
