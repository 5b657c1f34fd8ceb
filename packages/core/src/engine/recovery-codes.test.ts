import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { newRecoveryCodes, RECOVERY_CODE_COUNT, recoveryCodeHash } from './recovery-codes.ts';

describe('recovery codes', () => {
  it('are ten distinct 80-bit codes in Crockford base32, stored as SHA-256 of their normalized text', () => {
    const { codes, hashes } = newRecoveryCodes();
    assert.equal(codes.length, RECOVERY_CODE_COUNT);
    assert.equal(new Set(codes).size, RECOVERY_CODE_COUNT);
    codes.forEach((code, i) => {
      assert.match(
        code,
        /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/,
      );
      assert.equal(hashes[i], createHash('sha256').update(code.replaceAll('-', '')).digest('base64url'));
    });
  });

  it('use every character of the alphabet, in every position (no bias toward a few)', () => {
    const seen = Array.from({ length: 16 }, () => new Set<string>());
    for (let i = 0; i < 200; i += 1) {
      for (const code of newRecoveryCodes().codes) {
        for (const [position, char] of [...code.replaceAll('-', '')].entries()) seen[position]?.add(char);
      }
    }
    for (const chars of seen) assert.equal(chars.size, 32);
  });

  it('are read the way people type them: any case, spaces or hyphens, I and L as 1, O as 0', () => {
    const hash = recoveryCodeHash('1a0b-c1de-f0gh-jkmn');
    assert.ok(hash);
    for (const typed of [
      '1A0B-C1DE-F0GH-JKMN',
      '1a0bc1def0ghjkmn',
      ' 1a0b c1de f0gh jkmn ',
      'la0b-cIde-fOgh-jkmn',
    ]) {
      assert.equal(recoveryCodeHash(typed), hash, typed);
    }
  });

  it('are never hashed from something that cannot be one', () => {
    for (const value of [
      '',
      '1a0b-c1de-f0gh-jkm',
      '1a0b-c1de-f0gh-jkmnp',
      'uuuu-uuuu-uuuu-uuuu',
      'x'.repeat(65),
      42,
      null,
      ['1a0bc1def0ghjkmn'],
    ]) {
      assert.equal(recoveryCodeHash(value), null, JSON.stringify(value));
    }
  });
});
