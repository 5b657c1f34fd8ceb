import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { matchTotpStep, newTotpSecret, totpCode, totpStep, totpUri } from './totp.ts';

/** RFC 6238 Appendix B's SHA-1 seed, "12345678901234567890", in base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An independent RFC 4226/6238 reference, written from the RFC with node:crypto, to hold the library to. */
function referenceCode(secret: string, step: number): string {
  let bits = '';
  for (const char of secret) bits += BASE32.indexOf(char).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => Number.parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = (mac.at(-1) ?? 0) & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fff_ffff) % 1_000_000).padStart(6, '0');
}

describe('TOTP (RFC 6238 over otpauth)', () => {
  it('matches the SHA-1 test vectors of RFC 6238 Appendix B (their last six digits)', () => {
    for (const [seconds, code] of [
      [59, '287082'],
      [1_111_111_109, '081804'],
      [1_111_111_111, '050471'],
      [1_234_567_890, '005924'],
      [2_000_000_000, '279037'],
      [20_000_000_000, '353130'],
    ] as const) {
      assert.equal(totpCode(RFC_SECRET, seconds * 1000), code, `T = ${seconds}`);
    }
  });

  it('agrees with an independent implementation for any secret and step, counters past 2^32 included', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(newTotpSecret(), newTotpSecret(), RFC_SECRET),
        fc.oneof(fc.nat({ max: 2 ** 31 }), fc.integer({ min: 2 ** 32 - 2, max: 2 ** 40 })),
        (secret, step) => {
          assert.equal(totpCode(secret, step * 30_000), referenceCode(secret, step));
        },
      ),
    );
  });

  it('finds the step of a code within one step either side, and no further', () => {
    const secret = newTotpSecret();
    const nowMs = 1_700_000_015_000;
    const step = totpStep(nowMs);
    for (const delta of [-1, 0, 1]) {
      const code = referenceCode(secret, step + delta);
      // A code of another step that happens to equal this one's would be ambiguous; skip that 1-in-10^6 case.
      if ([-1, 0, 1].some((d) => d !== delta && referenceCode(secret, step + d) === code)) continue;
      assert.equal(matchTotpStep(secret, code, nowMs), step + delta, `delta ${delta}`);
    }
    for (const delta of [-3, -2, 2, 3]) {
      const code = referenceCode(secret, step + delta);
      if ([-1, 0, 1].some((d) => referenceCode(secret, step + d) === code)) continue;
      assert.equal(matchTotpStep(secret, code, nowMs), null, `delta ${delta}`);
    }
  });

  it('moves to the next step exactly at the 30-second boundary', () => {
    const secret = newTotpSecret();
    const boundary = 1_700_000_010_000; // a multiple of 30 s
    assert.equal(totpStep(boundary - 1), totpStep(boundary) - 1);
    assert.equal(totpCode(secret, boundary - 1), referenceCode(secret, totpStep(boundary) - 1));
    assert.equal(totpCode(secret, boundary), referenceCode(secret, totpStep(boundary)));
  });

  it('refuses anything but six digits, whatever it is', () => {
    const secret = newTotpSecret();
    const nowMs = 1_700_000_000_000;
    const right = totpCode(secret, nowMs);
    for (const code of [
      '',
      `${right} `,
      ` ${right}`,
      `${right}0`,
      right.slice(1),
      `${right.slice(0, 5)}x`,
      '١٢٣٤٥٦', // Arabic-Indic digits
      123456,
      null,
      undefined,
      [right],
      { toString: () => right },
    ]) {
      assert.equal(matchTotpStep(secret, code, nowMs), null, JSON.stringify(code));
    }
    assert.equal(matchTotpStep(secret, right, nowMs), totpStep(nowMs));
  });

  it('makes 160-bit base32 secrets, different every time', () => {
    const secrets = new Set(Array.from({ length: 100 }, newTotpSecret));
    assert.equal(secrets.size, 100);
    for (const secret of secrets) assert.match(secret, /^[A-Z2-7]{32}$/);
  });

  it('writes a key URI authenticator apps read', () => {
    const uri = new URL(totpUri(RFC_SECRET, '127.0.0.1:4000', 'ada@example.com'));
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), '/127.0.0.1:4000:ada@example.com');
    assert.deepEqual(Object.fromEntries(uri.searchParams), {
      issuer: '127.0.0.1:4000',
      secret: RFC_SECRET,
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });
  });
});
