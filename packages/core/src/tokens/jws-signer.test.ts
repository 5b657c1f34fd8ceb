import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { compactVerify, importSPKI } from 'jose';
import { createJwsSigner } from './jws-signer.ts';
import type { SigningAlg } from './keyring.ts';
import { jwsSigningInput } from './sign-jws.ts';

function keyPair(alg: SigningAlg) {
  return alg === 'EdDSA'
    ? generateKeyPairSync('ed25519')
    : alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
}

async function verifies(jws: string, alg: SigningAlg, publicKey: ReturnType<typeof keyPair>['publicKey']) {
  const key = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }) as string, alg);
  const { payload } = await compactVerify(jws, key, { algorithms: [alg] });
  return JSON.parse(new TextDecoder().decode(payload)) as { n: number };
}

describe('JWS signer', () => {
  for (const thread of [true, false]) {
    for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
      it(`${thread ? 'on a worker thread' : 'inline'}: ${alg} signatures verify with jose`, async () => {
        const signer = createJwsSigner({ thread });
        try {
          const { publicKey, privateKey } = keyPair(alg);
          const input = jwsSigningInput({ alg, typ: 'at+jwt' }, { n: 1 });
          const jws = `${input}.${await signer.sign(input, alg, privateKey)}`;
          assert.deepEqual(await verifies(jws, alg, publicKey), { n: 1 });
          assert.equal(signer.threaded(), thread);
        } finally {
          await signer.close();
        }
      });
    }
  }

  it('answers a burst in one turn, each input with its own signature, across a key change', async () => {
    const signer = createJwsSigner({ thread: true });
    try {
      const first = keyPair('EdDSA');
      const second = keyPair('ES256');
      const burst = Array.from({ length: 200 }, (_, n) => {
        const [alg, pair] = n % 2 ? (['ES256', second] as const) : (['EdDSA', first] as const);
        const input = jwsSigningInput({ alg }, { n });
        return {
          n,
          alg,
          pair,
          jws: signer.sign(input, alg, pair.privateKey).then((sig) => `${input}.${sig}`),
        };
      });
      for (const { n, alg, pair, jws } of burst) {
        assert.equal((await verifies(await jws, alg, pair.publicKey)).n, n);
      }
      // A key first seen in a later turn goes over with that turn's batch.
      const third = keyPair('RS256');
      const input = jwsSigningInput({ alg: 'RS256' }, { n: -1 });
      const jws = `${input}.${await signer.sign(input, 'RS256', third.privateKey)}`;
      assert.equal((await verifies(jws, 'RS256', third.publicKey)).n, -1);
      assert.ok(signer.threaded());
    } finally {
      await signer.close();
    }
  });

  it('keeps signing on the calling thread once closed', async () => {
    const signer = createJwsSigner({ thread: true });
    await signer.close();
    assert.equal(signer.threaded(), false);
    const { publicKey, privateKey } = keyPair('EdDSA');
    const input = jwsSigningInput({ alg: 'EdDSA' }, { n: 2 });
    assert.equal(
      (await verifies(`${input}.${await signer.sign(input, 'EdDSA', privateKey)}`, 'EdDSA', publicKey)).n,
      2,
    );
  });
});
