import type { TesseraEvent } from '@tessera/core';
import { json, type Route } from '@tessera/server';
import { authenticateRequest, createVerifier, refusalFor, type Verifier, VerifyError } from '@tessera/verify';

/** Options of {@link createDemoResource}. */
export interface DemoResourceOptions {
  /** The server's issuer: the verifier discovers the JWKS and the revocation feed from its metadata. */
  issuer: string;
  audience: string;
  /** `TESSERA_SERVICE_TOKEN` (the feed's credential), or `null` when the feed serves loopback callers. */
  serviceToken: string | null;
  /** The clock, ms since the epoch (the engine's). Default `Date.now`. */
  now?: () => number;
}

/** The demo page's "protected API": a resource service that trusts only `@tessera/verify`. */
export interface DemoResource {
  /** `GET /demo/api/resource`. */
  route(): Route;
  /** Feed the engine's events: a `session.revoked` starts measuring how long the verifier takes to refuse. */
  onEvent(event: TesseraEvent): void;
  close(): Promise<void>;
}

// Tokens this service accepted are remembered (in memory, bounded) only to measure the feed's lag on them.
const MAX_TRACKED_TOKENS = 1000;
const PROBE_INTERVAL_MS = 2;
const PROBE_LIMIT_MS = 30_000;

/** The Bearer token of an `Authorization` header, for looking up what this service measured (never trusted). */
function bearerToken(header: string | null): string | null {
  const match = header === null ? null : /^Bearer +(\S+)$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * The demo's resource service, mounted by the demo server but built as an outside service would be:
 * `createVerifier` from `@tessera/verify` against the issuer URL, so it reaches the JWKS and the
 * revocation feed over HTTP and verifies every token locally. When the engine reports a revoked
 * session whose token this service accepted earlier, it checks that token with the verifier every
 * {@link PROBE_INTERVAL_MS} ms until the verifier refuses it, and keeps the time from the revocation
 * to that refusal: the feed's lag, shown with the refusal.
 */
export function createDemoResource(options: DemoResourceOptions): DemoResource {
  const now = options.now ?? Date.now;
  let verifier: Verifier | null = null;
  let ready = false;
  let closed = false;
  const accepted = new Map<string, { sid: string; expMs: number }>();
  const lags = new Map<string, { lagMs: number; untilMs: number }>();
  const probes = new Set<NodeJS.Timeout>();

  const started = async (): Promise<Verifier> => {
    if (closed)
      throw new VerifyError('temporarily_unavailable', 'The demo resource service is shutting down.');
    verifier ??= createVerifier({
      issuer: options.issuer,
      audience: options.audience,
      now,
      ...(options.serviceToken === null ? {} : { serviceToken: options.serviceToken }),
    });
    if (!ready) {
      await verifier.ready();
      ready = true;
    }
    return verifier;
  };

  const prune = (): void => {
    const nowMs = now();
    for (const [token, entry] of accepted) if (entry.expMs <= nowMs) accepted.delete(token);
    for (const [sid, lag] of lags) if (lag.untilMs <= nowMs) lags.delete(sid);
    for (const token of accepted.keys()) {
      if (accepted.size <= MAX_TRACKED_TOKENS) break;
      accepted.delete(token);
    }
  };

  const verifierStatus = (v: Verifier | null): Record<string, unknown> => {
    const status = v?.status();
    return {
      feed_connected: status?.feedConnected ?? false,
      // Time since the feed last spoke (a revocation, a heartbeat or a snapshot).
      feed_silence_ms: status && Number.isFinite(status.feedLagMs) ? Math.round(status.feedLagMs) : null,
      revocations: status?.revocations ?? 0,
    };
  };

  const probe = (sid: string, revokedAtMs: number): void => {
    const nowMs = now();
    let token: string | null = null;
    let expMs = 0;
    for (const [candidate, entry] of accepted) {
      if (entry.sid === sid && entry.expMs > nowMs && entry.expMs > expMs) {
        token = candidate;
        expMs = entry.expMs;
      }
    }
    const v = verifier;
    if (token === null || v === null) return;
    const found = token;
    const tick = (): void => {
      if (closed) return;
      v.verify(found).then(
        () => {
          if (now() - revokedAtMs < PROBE_LIMIT_MS) schedule();
        },
        (error: unknown) => {
          if (error instanceof VerifyError && error.code === 'invalid_token' && now() < expMs) {
            lags.set(sid, { lagMs: Math.max(0, now() - revokedAtMs), untilMs: expMs });
          }
        },
      );
    };
    const schedule = (): void => {
      const timer = setTimeout(() => {
        probes.delete(timer);
        tick();
      }, PROBE_INTERVAL_MS);
      timer.unref();
      probes.add(timer);
    };
    tick();
  };

  return {
    route() {
      return {
        method: 'GET',
        path: '/demo/api/resource',
        auth: 'none',
        async handle(ctx) {
          const authorization = ctx.request.headers.get('authorization');
          let v: Verifier;
          try {
            v = await started();
          } catch (error) {
            const refusal = refusalFor(error);
            return json(
              refusal.status,
              { ...refusal.body, verifier: verifierStatus(verifier) },
              refusal.headers,
            );
          }
          const outcome = await authenticateRequest(v, {
            headers: authorization === null ? {} : { authorization },
          });
          const token = bearerToken(authorization);
          if (outcome.refusal) {
            const seen = token === null ? undefined : accepted.get(token);
            const lag = seen ? lags.get(seen.sid) : undefined;
            const body = {
              ...outcome.refusal.body,
              ...(lag ? { revocation_lag_ms: lag.lagMs } : {}),
              verifier: verifierStatus(v),
            };
            return json(outcome.refusal.status, body, outcome.refusal.headers);
          }
          const { claims } = outcome;
          if (token !== null) {
            prune();
            accepted.set(token, { sid: claims.sid, expMs: claims.exp * 1000 });
          }
          return json(200, {
            message: 'Hello from the demo resource service: your token checks out.',
            verified_by: '@tessera/verify',
            sub: claims.sub,
            sid: claims.sid,
            amr: claims.amr ?? [],
            // Profile claims ride in the token: a change shows here from the next token on.
            ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
            ...(typeof claims.email_verified === 'boolean' ? { email_verified: claims.email_verified } : {}),
            expires_at: new Date(claims.exp * 1000).toISOString(),
            verifier: verifierStatus(v),
          });
        },
      };
    },
    onEvent(event) {
      if (event.type === 'session.revoked' && !closed) probe(event.sessionId, event.atMs);
    },
    async close() {
      closed = true;
      for (const timer of probes) clearTimeout(timer);
      probes.clear();
      await verifier?.close();
    },
  };
}
