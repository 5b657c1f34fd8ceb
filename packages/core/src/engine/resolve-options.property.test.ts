import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createManualClock } from '../clock.ts';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { TEST_ARGON2, TEST_SECRET } from '../testing/engine-fixture.ts';
import { createEngine } from './create-engine.ts';
import type { EngineOptions } from './options.ts';
import { POLICY_MAX_ACCESS_TTL_SECONDS, POLICY_NAMES, type PolicyName } from './policies/registry.ts';

const DAY = 86_400;
const ISSUER = 'https://auth.example.com';
type Settings = Omit<EngineOptions, 'store' | 'secret' | 'issuer' | 'clock'>;

/** Option sets the documented rules allow (some options left to their defaults). */
const validSettings: fc.Arbitrary<Settings> = fc
  .record({
    policy: fc.constantFrom(...POLICY_NAMES),
    ttlShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    softShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    absoluteSeconds: fc.option(fc.integer({ min: 1, max: 400 * DAY }), { nil: undefined }),
    idleShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    reuseGraceSeconds: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
    clockLeewaySeconds: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
    maxLoginAgeSeconds: fc.option(fc.integer({ min: 0, max: 400 * DAY }), { nil: undefined }),
    maxSessionsPerUser: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
    profileFields: fc.option(
      fc
        .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), { maxLength: 4 })
        .filter(
          (fields) =>
            !fields.some((f) =>
              [
                'sub',
                'sid',
                'ver',
                'gen',
                'exp',
                'iat',
                'iss',
                'aud',
                'jti',
                'nbf',
                'amr',
                'acr',
                'cnf',
                'act',
                'azp',
                'typ',
              ].includes(f),
            ),
        ),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const max = POLICY_MAX_ACCESS_TTL_SECONDS[r.policy];
    const min = r.policy === 'soft-expiry' ? 2 : 1;
    const accessTtlSeconds =
      r.ttlShare === undefined ? undefined : min + Math.floor(r.ttlShare * (max - min));
    const ttl =
      accessTtlSeconds ??
      (r.policy === 'long-lived-token' ? 7 * DAY : r.policy === 'soft-expiry' ? 3600 : 600);
    // long-lived-token: nothing renews the session, so it must outlive the token.
    const floor = r.policy === 'long-lived-token' ? ttl : 1;
    const absolute = Math.max(r.absoluteSeconds ?? 30 * DAY, floor);
    const idle = r.idleShare === undefined ? undefined : floor + Math.floor(r.idleShare * (absolute - floor));
    const settings: Settings = {
      policy: r.policy,
      accessTtlSeconds,
      refreshAbsoluteTtlSeconds: r.absoluteSeconds === undefined && floor <= 30 * DAY ? undefined : absolute,
      refreshIdleTtlSeconds: idle,
      softTtlSeconds:
        r.softShare === undefined || r.policy !== 'soft-expiry'
          ? undefined
          : 1 + Math.floor(r.softShare * (ttl - 2)),
      reuseGraceSeconds: r.reuseGraceSeconds,
      clockLeewaySeconds: r.clockLeewaySeconds,
      maxLoginAgeSeconds: r.maxLoginAgeSeconds,
      maxSessionsPerUser: r.maxSessionsPerUser,
      profileFields: r.profileFields,
    };
    return settings;
  });

function claimsOf(token: string): { iat: number; exp: number; softexp?: number } {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

async function verdict<T>(promise: Promise<T>): Promise<boolean> {
  try {
    await promise;
    return true;
  } catch (error) {
    if (!isTesseraError(error) && (error as { code?: string }).code === undefined) throw error;
    return false;
  }
}

describe('engine options (property-based)', () => {
  it('any accepted option set yields tokens that verify across a key rotation for their whole life, and not after', async () => {
    await fc.assert(
      fc.asyncProperty(validSettings, fc.double({ min: 0, max: 1, noNaN: true }), async (settings, when) => {
        const clock = createManualClock();
        const engine = await createEngine({
          ...settings,
          store: createMemoryStore(),
          secret: TEST_SECRET,
          issuer: ISSUER,
          clock,
          argon2: TEST_ARGON2,
          rateLimits: false,
          signOffThread: false,
        });
        try {
          const s = engine.settings;
          const startMs = clock.now();
          const tokens = await engine.register({
            email: 'prop@example.com',
            password: 'correct horse battery staple',
          });
          const { iat, exp, softexp } = claimsOf(tokens.accessToken);
          await engine.rotateSigningKey();
          const sessionEndMs = Math.min(
            startMs + s.refreshIdleTtlSeconds * 1000,
            startMs + s.refreshAbsoluteTtlSeconds * 1000,
            s.maxLoginAgeSeconds > 0 ? startMs + s.maxLoginAgeSeconds * 1000 : Number.POSITIVE_INFINITY,
          );
          // The resolved TTL, but never past the session's own end.
          assert.equal(exp, Math.min(iat + s.accessTtlSeconds, Math.floor(sessionEndMs / 1000)), 'exp');
          assert.equal(tokens.expiresIn, exp - iat);
          const lastMs = (exp + s.clockLeewaySeconds) * 1000 - 1;
          const accepted = async () => {
            await engine.sweep();
            const atResourceServer = await verdict(
              jwtVerify(tokens.accessToken, createLocalJWKSet(await engine.jwks()), {
                issuer: ISSUER,
                currentDate: new Date(clock.now()),
                clockTolerance: s.clockLeewaySeconds,
              }),
            );
            return { atResourceServer, atEngine: await verdict(engine.authenticate(tokens.accessToken)) };
          };
          const engineExpects = (atMs: number) =>
            atMs < sessionEndMs && (softexp === undefined || atMs < softexp * 1000);
          for (const atMs of [startMs + Math.floor(when * (lastMs - startMs)), lastMs]) {
            clock.set(atMs);
            const seen = await accepted();
            assert.equal(seen.atResourceServer, true, `JWKS verification at +${atMs - startMs} ms`);
            assert.equal(seen.atEngine, engineExpects(atMs), `engine at +${atMs - startMs} ms`);
          }
          clock.set(lastMs + 1);
          assert.deepEqual(
            await accepted(),
            { atResourceServer: false, atEngine: false },
            'after exp + leeway',
          );
        } finally {
          await engine.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  /** One broken option each: the name the error must carry, and values that break it. */
  const breakers: Array<[string, (settings: Settings) => fc.Arbitrary<Partial<EngineOptions>>]> = [
    [
      'accessTtlSeconds',
      (s) =>
        fc
          .oneof(
            fc.integer({ min: -1_000, max: 0 }),
            fc
              .integer({ min: 1, max: 1_000_000 })
              .map((n) => POLICY_MAX_ACCESS_TTL_SECONDS[s.policy as PolicyName] + n),
            fc.double({ min: 1.01, max: 100.99, noInteger: true }),
            fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, '600' as unknown as number),
          )
          .map((accessTtlSeconds) => ({ accessTtlSeconds })),
    ],
    [
      'refreshAbsoluteTtlSeconds',
      () =>
        fc
          .oneof(fc.integer({ min: -10, max: 0 }), fc.integer({ min: 400 * DAY + 1, max: 1_000 * DAY }))
          .map((refreshAbsoluteTtlSeconds) => ({ refreshAbsoluteTtlSeconds })),
    ],
    [
      'refreshIdleTtlSeconds',
      () =>
        fc.integer({ min: 1, max: 100 * DAY }).chain((absolute) =>
          fc.integer({ min: absolute + 1, max: absolute + DAY }).map((idle) => ({
            refreshAbsoluteTtlSeconds: absolute,
            refreshIdleTtlSeconds: idle,
            policy: 'rotating-refresh' as const,
            accessTtlSeconds: undefined,
          })),
        ),
    ],
    [
      'refreshIdleTtlSeconds',
      () =>
        fc.integer({ min: 1, max: 7 * DAY - 1 }).map((idle) => ({
          policy: 'long-lived-token' as const,
          accessTtlSeconds: 7 * DAY,
          refreshIdleTtlSeconds: idle,
          refreshAbsoluteTtlSeconds: 30 * DAY,
        })),
    ],
    [
      'refreshAbsoluteTtlSeconds',
      () =>
        fc.integer({ min: 1, max: 7 * DAY - 1 }).map((absolute) => ({
          policy: 'long-lived-token' as const,
          accessTtlSeconds: 7 * DAY,
          refreshIdleTtlSeconds: undefined,
          refreshAbsoluteTtlSeconds: absolute,
        })),
    ],
    [
      'softTtlSeconds',
      () =>
        fc.integer({ min: 2, max: DAY }).chain((ttl) =>
          fc.integer({ min: ttl, max: DAY }).map((soft) => ({
            policy: 'soft-expiry' as const,
            accessTtlSeconds: ttl,
            softTtlSeconds: soft,
            refreshIdleTtlSeconds: undefined,
            refreshAbsoluteTtlSeconds: undefined,
          })),
        ),
    ],
    [
      'reuseGraceSeconds',
      () => fc.constantFrom(-1, 301, 2.5, 10_000).map((reuseGraceSeconds) => ({ reuseGraceSeconds })),
    ],
    [
      'clockLeewaySeconds',
      () => fc.constantFrom(-1, 61, 0.5, 3600).map((clockLeewaySeconds) => ({ clockLeewaySeconds })),
    ],
    [
      'maxSessionsPerUser',
      () => fc.constantFrom(-1, 0.5, Number.NaN).map((maxSessionsPerUser) => ({ maxSessionsPerUser })),
    ],
    [
      'maxLoginAgeSeconds',
      () => fc.constantFrom(-1, 1.5, 401 * DAY).map((maxLoginAgeSeconds) => ({ maxLoginAgeSeconds })),
    ],
    [
      'issuer',
      () =>
        fc
          .constantFrom(
            '',
            ' ',
            'auth example',
            'https://auth.example.com/?a=1',
            'https://auth.example.com/#x',
            'https://u:p@auth.example.com',
            'https://[bad',
            'x\u0000y',
            '\uD800',
          )
          .map((issuer) => ({ issuer })),
    ],
    [
      'audience',
      () => fc.constantFrom('', 'a b', 'https://api.example.com/?x').map((audience) => ({ audience })),
    ],
    [
      'clientId',
      () => fc.constantFrom('', 'my app', 'café', 'x'.repeat(129)).map((clientId) => ({ clientId })),
    ],
    [
      'profileFields',
      () =>
        fc
          .constantFrom(
            ['Name'],
            ['sub'],
            ['roles'],
            ['softexp'],
            ['nick', 'nick'],
            ['9lives'],
            ['a'.repeat(65)],
            'name' as unknown as string[],
          )
          .map((profileFields) => ({ profileFields })),
    ],
    ['argon2', () => fc.constant({ argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } })],
    ['argon2.memoryCost', () => fc.constant({ argon2: { memoryCost: 0, timeCost: 2, parallelism: 1 } })],
    ['secret', () => fc.integer({ min: 0, max: 31 }).map((n) => ({ secret: new Uint8Array(n) }))],
    [
      'policy',
      () => fc.constantFrom('nope', 'ROTATING-REFRESH').map((policy) => ({ policy: policy as PolicyName })),
    ],
    ['signingAlg', () => fc.constantFrom('HS256', 'none').map((alg) => ({ signingAlg: alg as 'EdDSA' }))],
    [
      'rateLimits.loginPerIp.limit',
      () => fc.constant({ rateLimits: { loginPerIp: [{ limit: 0, windowSeconds: 60 }] } }),
    ],
    ['rateLimits.nope', () => fc.constant({ rateLimits: { nope: [] } as never })],
    ['store', () => fc.constant({ store: {} as never })],
  ];

  it('any option set it rejects throws invalid_configuration naming the option', async () => {
    const broken = fc
      .constantFrom(...breakers)
      .chain(([option, make]) =>
        validSettings.chain((settings) => make(settings).map((patch) => ({ option, settings, patch }))),
      );
    await fc.assert(
      fc.asyncProperty(broken, async ({ option, settings, patch }) => {
        const options = {
          ...settings,
          store: createMemoryStore(),
          secret: TEST_SECRET,
          issuer: ISSUER,
          argon2: TEST_ARGON2,
          signOffThread: false,
          ...patch,
        } as EngineOptions;
        await assert.rejects(createEngine(options), (error: unknown) => {
          assert.ok(isTesseraError(error), String(error));
          assert.equal(error.code, 'invalid_configuration');
          assert.equal(error.status, 500);
          assert.equal(error.field, option, error.message);
          assert.ok(error.message.startsWith(`${option} `), error.message);
          return true;
        });
      }),
      { numRuns: 300 },
    );
  });
});
