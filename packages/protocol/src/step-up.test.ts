import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkStepUp, readStepUpChallenge, stepUpChallenge, stepUpOptions } from './index.ts';

const NOW_MS = 1_700_000_000_000;
const NOW = NOW_MS / 1000;

describe('checkStepUp (RFC 9470 §3)', () => {
  it('accepts an authentication exactly max_age old, refuses one a second older', () => {
    assert.equal(checkStepUp({ auth_time: NOW - 600 }, { maxAgeSeconds: 600 }, NOW_MS), null);
    assert.match(
      checkStepUp({ auth_time: NOW - 601 }, { maxAgeSeconds: 600 }, NOW_MS) ?? '',
      /within the last 600 seconds/,
    );
    assert.equal(checkStepUp({ auth_time: NOW + 5 }, { maxAgeSeconds: 0 }, NOW_MS), null, 'a clock ahead');
  });

  it('refuses a token without a numeric auth_time when an age is required, and ignores it otherwise', () => {
    for (const authTime of [undefined, '1700000000', null, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.ok(checkStepUp({ auth_time: authTime }, { maxAgeSeconds: 600 }, NOW_MS), String(authTime));
      assert.equal(checkStepUp({ auth_time: authTime }, {}, NOW_MS), null);
    }
  });

  it('requires acr to be one of the acceptable values', () => {
    assert.equal(checkStepUp({ acr: '2' }, { acrValues: ['2'] }, NOW_MS), null);
    assert.equal(checkStepUp({ acr: '1' }, { acrValues: ['2', '1'] }, NOW_MS), null);
    for (const acr of ['1', undefined, 2, ['2']]) {
      assert.match(checkStepUp({ acr }, { acrValues: ['2'] }, NOW_MS) ?? '', /stronger/, String(acr));
    }
    assert.equal(checkStepUp({}, { acrValues: [] }, NOW_MS), null, 'an empty list requires nothing');
  });
});

describe('stepUpChallenge and readStepUpChallenge', () => {
  it('builds the challenge of RFC 9470 §3 and reads it back', () => {
    const header = stepUpChallenge('api', 'Authenticate again.', {
      maxAgeSeconds: 600,
      acrValues: ['2', '1'],
    });
    assert.equal(
      header,
      'Bearer realm="api", error="insufficient_user_authentication", error_description="Authenticate again.", max_age=600, acr_values="2 1"',
    );
    assert.deepEqual(readStepUpChallenge(header), { maxAge: 600, acr: '2 1' });
    assert.equal(
      stepUpChallenge('api', 'x', {}),
      'Bearer realm="api", error="insufficient_user_authentication", error_description="x"',
    );
  });

  it('reads the RFC 9470 examples, quoted or not, and nothing else', () => {
    // RFC 9470 §3's two examples.
    assert.deepEqual(
      readStepUpChallenge(
        'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"',
      ),
      { maxAge: null, acr: 'myACR' },
    );
    assert.deepEqual(
      readStepUpChallenge(
        'Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5"',
      ),
      { maxAge: 5, acr: null },
    );
    assert.deepEqual(readStepUpChallenge('Bearer error=insufficient_user_authentication, acr_values=2'), {
      maxAge: null,
      acr: '2',
    });
    for (const header of [
      null,
      undefined,
      '',
      'Bearer realm="tessera"',
      'Bearer error="invalid_token", error_description="error=insufficient_user_authentication"',
      'Bearer error="insufficient_user_authenticationx"',
    ]) {
      assert.equal(readStepUpChallenge(header), null, String(header));
    }
  });

  it('never takes text inside a quoted description for a parameter', () => {
    assert.deepEqual(
      readStepUpChallenge(
        'Bearer realm="a", error="insufficient_user_authentication", error_description="say \\"max_age=9\\", acr_values=x", max_age=600',
      ),
      { maxAge: 600, acr: null },
    );
  });

  it('never throws on any header and reads what it builds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        readStepUpChallenge(header);
      }),
    );
    fc.assert(
      fc.property(
        fc.nat({ max: 10 ** 9 }),
        fc.array(fc.stringMatching(/^[A-Za-z0-9:._-]{1,20}$/), { maxLength: 3 }),
        fc.string({ maxLength: 50 }),
        (maxAgeSeconds, acrValues, description) => {
          const read = readStepUpChallenge(stepUpChallenge('api', description, { maxAgeSeconds, acrValues }));
          assert.deepEqual(read, {
            maxAge: maxAgeSeconds,
            acr: acrValues.length ? acrValues.join(' ') : null,
          });
        },
      ),
    );
  });
});

describe('stepUpOptions', () => {
  it('turns { maxAge, acr } into a requirement, and names a bad option', () => {
    assert.deepEqual(stepUpOptions('x', {}), { maxAgeSeconds: undefined, acrValues: undefined });
    assert.deepEqual(stepUpOptions('x', { maxAge: 0, acr: '2' }), { maxAgeSeconds: 0, acrValues: ['2'] });
    assert.deepEqual(stepUpOptions('x', { acr: ['2', 'urn:x:gold'] }).acrValues, ['2', 'urn:x:gold']);
    for (const options of [
      { maxAge: -1 },
      { maxAge: 2.5 },
      { maxAge: '60' },
      { acr: '' },
      { acr: 'a b' },
      { acr: ['"'] },
      { acr: 2 },
    ]) {
      assert.throws(
        () => stepUpOptions('requireThing', options),
        /^TypeError: requireThing: /,
        JSON.stringify(options),
      );
    }
  });
});
