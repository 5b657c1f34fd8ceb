import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { postgresUrlOptions } from './open-store.ts';
import { StartupError } from './startup-error.ts';

describe('postgresUrlOptions', () => {
  it("takes Tessera's parameters out of the URL as store options and leaves the driver's", () => {
    const url = new URL(
      'postgres://app:pw@db.internal:5433/tessera?sslmode=require&schema=auth&max_connections=20' +
        '&query_timeout_ms=1500&rotation_batch_size=16&rotation_batches_in_flight=2&application_name=tessera',
    );
    assert.deepEqual(postgresUrlOptions(url), {
      schema: 'auth',
      maxConnections: 20,
      queryTimeoutMs: 1500,
      rotationBatchSize: 16,
      rotationBatchesInFlight: 2,
    });
    assert.equal(
      url.href,
      'postgres://app:pw@db.internal:5433/tessera?sslmode=require&application_name=tessera',
    );
  });

  it('sets nothing the URL does not name', () => {
    const url = new URL('postgres://127.0.0.1/tessera');
    assert.deepEqual(postgresUrlOptions(url), {});
    assert.equal(url.href, 'postgres://127.0.0.1/tessera');
  });

  it('refuses a number that is not a positive whole number, naming the parameter', () => {
    for (const [parameter, value] of [
      ['max_connections', '0'],
      ['max_connections', ''],
      ['query_timeout_ms', '-5'],
      ['rotation_batch_size', '1.5'],
      ['rotation_batch_size', '64abc'],
      ['rotation_batches_in_flight', '1e3'],
      ['rotation_batches_in_flight', '9999999999'],
    ]) {
      const url = new URL(`postgres://app:Sup3rS3cretPw@127.0.0.1/tessera?${parameter}=${value}`);
      assert.throws(
        () => postgresUrlOptions(url),
        (error: unknown) =>
          error instanceof StartupError &&
          error.setting === 'TESSERA_DATABASE_URL' &&
          error.kind === 'config' &&
          error.message.includes(`?${parameter}= must be a positive whole number`) &&
          !error.message.includes('Sup3rS3cretPw'),
        `${parameter}=${value}`,
      );
    }
  });
});
